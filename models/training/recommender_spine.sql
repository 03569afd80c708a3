-- The labelled events of the LLM recommender's training set. Each Monday at
-- 00:00 UTC the recommender suggests one genre to every subscriber; the label
-- says whether the subscriber started a title of that genre in the 7 days after.
-- The suggestion is the genre most watched across the service in the 7 days
-- before (known at that moment, ties to the first name). The weeks run from the
-- first Monday after the first event to the last week (Monday to Sunday) over by
-- the day 7 days before the newest event, so no label window reaches past the
-- newest event: such labels would not be known yet.
with watches as (

    select events.user_id, events.watched_at, titles.genre
    from {{ ref('stg_watch_events') }} as events
    inner join {{ ref('stg_titles') }} as titles on titles.title_id = events.title_id

),

weeks as (

    {%- set first_event = '(select min(watched_at) from ' ~ ref('stg_watch_events') ~ ')' %}
    {%- set newest_event = '(select max(watched_at) from ' ~ ref('stg_watch_events') ~ ')' %}
    {{ date_periods(
        'week',
        dbt.dateadd('week', 1, dbt.date_trunc('week', first_event)),
        dbt.dateadd('day', -6, dbt.date_trunc('day', dbt.dateadd('day', -7, newest_event)))
    ) }}

),

genre_watches as (

    select cast(weeks.date_week as timestamp) as event_timestamp, watches.genre, count(*) as watches
    from weeks
    inner join watches
        on watches.watched_at < cast(weeks.date_week as timestamp)
        and watches.watched_at >= {{ dbt.dateadd('day', -7, 'cast(weeks.date_week as timestamp)') }}
    group by 1, 2

),

recommended as (

    select event_timestamp, genre as recommended_genre
    from (
        select
            event_timestamp,
            genre,
            row_number() over (partition by event_timestamp order by watches desc, genre) as rank_in_week
        from genre_watches
    ) as ranked
    where rank_in_week = 1

),

suggestions as (

    select users.user_id, recommended.event_timestamp, recommended.recommended_genre
    from {{ ref('stg_users') }} as users
    inner join recommended on users.signed_up_at <= recommended.event_timestamp

)

select
    cast(suggestions.user_id as bigint) as user_id,
    suggestions.event_timestamp,
    suggestions.recommended_genre,
    count(watches.user_id) > 0 as watched_recommended_genre_7d
from suggestions
left join watches
    on watches.user_id = suggestions.user_id
    and watches.genre = suggestions.recommended_genre
    and watches.watched_at > suggestions.event_timestamp
    and watches.watched_at <= {{ dbt.dateadd('day', 7, 'suggestions.event_timestamp') }}
group by 1, 2, 3
