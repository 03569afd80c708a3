with shift as (
    select {{ demo_time_shift() }} as hours
)

select
    users.user_id,
    {{ dbt.dateadd('hour', 'shift.hours', 'users.signed_up_at') }} as signed_up_at,
    users.plan,
    users.country
from {{ ref('users') }} as users
cross join shift
