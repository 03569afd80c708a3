-- Daily engagement segment per user. Each day at 00:00 UTC, a user's segment is
-- computed from the titles watched in the 30 full days before; a history row is
-- written only when the segment (or 7-day activity) changes.
with users as (

    select user_id, {{ dbt.date_trunc('day', 'signed_up_at') }} as signup_day
    from {{ ref('stg_users') }}

),

days as (

    {{ date_periods(
        'day',
        '(select min(' ~ dbt.date_trunc('day', 'signed_up_at') ~ ') from ' ~ ref('stg_users') ~ ')',
        dbt.date_trunc('day', demo_now())
    ) }}

),

daily_watches as (

    select user_id, {{ dbt.date_trunc('day', 'watched_at') }} as watch_day, count(*) as titles_watched
    from {{ ref('stg_watch_events') }}
    group by 1, 2

),

user_days as (

    select
        users.user_id,
        cast(days.date_day as timestamp) as event_timestamp,
        coalesce(daily_watches.titles_watched, 0) as titles_watched
    from users
    inner join days on cast(days.date_day as timestamp) >= users.signup_day
    left join daily_watches
        on daily_watches.user_id = users.user_id
        and daily_watches.watch_day = cast(days.date_day as timestamp)

),

trailing_activity as (

    select
        user_id,
        event_timestamp,
        coalesce(sum(titles_watched) over (
            partition by user_id order by event_timestamp rows between 30 preceding and 1 preceding
        ), 0) as titles_30d,
        coalesce(sum(titles_watched) over (
            partition by user_id order by event_timestamp rows between 7 preceding and 1 preceding
        ), 0) as titles_7d
    from user_days

),

segmented as (

    select
        user_id,
        event_timestamp,
        case
            when titles_30d >= 30 then 'power_user'
            when titles_30d >= 8 then 'regular'
            when titles_30d >= 1 then 'casual'
            else 'dormant'
        end as user_segment,
        titles_7d > 0 as is_active_7d
    from trailing_activity

)

{{ history_changes('segmented', keys=['user_id'], timestamp='event_timestamp',
                   columns=['user_segment', 'is_active_7d']) }}
