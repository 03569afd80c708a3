select
    title_id,
    title_name,
    lower(genre) as genre,
    runtime_minutes,
    release_year
from {{ ref('titles') }}
