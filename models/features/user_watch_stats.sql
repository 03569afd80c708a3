-- Trailing 30-day viewing activity per user, as a full history.
-- The window at time t holds the events with t - 30 days < watched_at <= t. A
-- history row is written whenever the values change: at each event, and when an
-- event leaves the window 30 days later. So the latest row is right at any later
-- time (and 0 after 30 quiet days), not only at the moment of an event. Rows
-- dated after the build (a scheduled drop) wait for a later sync.
with events as (

    select user_id, watched_at, minutes_watched
    from {{ ref('stg_watch_events') }}

),

deltas as (

    select user_id, watched_at as event_timestamp, 1 as count_delta, minutes_watched as minutes_delta
    from events
    union all
    select user_id, {{ dbt.dateadd('day', 30, 'watched_at') }}, -1, -minutes_watched
    from events

),

per_moment as (

    select user_id, event_timestamp, sum(count_delta) as count_delta, sum(minutes_delta) as minutes_delta
    from deltas
    group by user_id, event_timestamp

),

running as (

    select
        user_id,
        event_timestamp,
        sum(count_delta) over (
            partition by user_id order by event_timestamp rows between unbounded preceding and current row
        ) as watch_count_30d,
        sum(minutes_delta) over (
            partition by user_id order by event_timestamp rows between unbounded preceding and current row
        ) as watch_minutes_30d
    from per_moment

),

changes as (

    {{ history_changes('running', keys=['user_id'], timestamp='event_timestamp',
                       columns=['watch_count_30d', 'watch_minutes_30d']) }}

)

select
    user_id,
    cast(event_timestamp as timestamp) as event_timestamp,
    cast(watch_count_30d as bigint) as watch_count_30d,
    cast(watch_minutes_30d as bigint) as watch_minutes_30d,
    -- minutes / count to 2 decimals, half up, in whole numbers: floor((200m + c) / 2c) / 100.
    -- round() of a double is engine-specific at ties (38.675 is 38.67 on DuckDB, 38.68 on Spark).
    cast(floor(cast(200 * watch_minutes_30d + watch_count_30d as double) / nullif(2 * watch_count_30d, 0))
        as double) / 100 as avg_minutes_per_title_30d
from changes
