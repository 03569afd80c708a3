with shift as (
    select {{ demo_time_shift() }} as hours
)

select
    events.event_id,
    events.user_id,
    events.title_id,
    events.watched_at + shift.hours as watched_at,
    events.loaded_at + shift.hours as loaded_at,
    events.minutes_watched
from {{ ref('watch_events') }} as events
cross join shift
