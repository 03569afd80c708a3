-- The genre and title of each user's latest watch, one history row per event.
-- A push-fed view: its history is the watch events of the seeds (the backfill)
-- together with the rows pushed to it (its push log, stg_user_last_genre_pushes).
-- Two rows of one user in the same second keep the later-loaded one, the same
-- rule the point-in-time join applies with `created_timestamp`; a row pushed
-- twice (a retried push, a compaction cut short) is kept once.
with watched as (

    select
        events.user_id,
        events.watched_at as event_timestamp,
        events.loaded_at,
        titles.genre as last_genre,
        events.title_id as last_title_id,
        events.event_id
    from {{ ref('stg_watch_events') }} as events
    inner join {{ ref('stg_titles') }} as titles on titles.title_id = events.title_id

),

pushed as (

    select
        user_id,
        event_timestamp,
        loaded_at,
        last_genre,
        last_title_id,
        cast(null as bigint) as event_id
    from {{ ref('stg_user_last_genre_pushes') }}

),

events as (

    select
        *,
        row_number() over (
            partition by user_id, event_timestamp
            order by loaded_at desc, event_id desc nulls last, last_title_id desc, last_genre desc
        ) as rank_in_second
    from (
        select * from watched
        union all
        select * from pushed
    ) as history

)

select
    user_id,
    cast(event_timestamp as timestamp) as event_timestamp,
    cast(loaded_at as timestamp) as loaded_at,
    last_genre,
    cast(last_title_id as bigint) as last_title_id
from events
where rank_in_second = 1
