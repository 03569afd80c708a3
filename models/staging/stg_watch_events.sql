with shift as (
    select {{ demo_time_shift() }} as hours
)

select
    events.event_id,
    events.user_id,
    events.title_id,
    {{ dbt.dateadd('hour', 'shift.hours', 'events.watched_at') }} as watched_at,
    {{ dbt.dateadd('hour', 'shift.hours', 'events.loaded_at') }} as loaded_at,
    events.minutes_watched
from {{ ref('watch_events') }} as events
cross join shift
