select
    user_id,
    signed_up_at + {{ demo_time_shift() }} as signed_up_at,
    plan,
    country
from {{ ref('users') }}
