-- The genre and title of each user's latest watch, one history row per event.
-- Two events of one user in the same second keep the later-loaded one, the same
-- rule the point-in-time join applies with `created_timestamp`.
with events as (

    select
        events.user_id,
        events.watched_at as event_timestamp,
        events.loaded_at,
        titles.genre as last_genre,
        events.title_id as last_title_id,
        row_number() over (
            partition by events.user_id, events.watched_at
            order by events.loaded_at desc, events.event_id desc
        ) as rank_in_second
    from {{ ref('stg_watch_events') }} as events
    inner join {{ ref('stg_titles') }} as titles on titles.title_id = events.title_id

)

select
    user_id,
    cast(event_timestamp as timestamp) as event_timestamp,
    cast(loaded_at as timestamp) as loaded_at,
    last_genre,
    cast(last_title_id as bigint) as last_title_id
from events
where rank_in_second = 1
