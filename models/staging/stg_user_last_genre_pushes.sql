-- The rows pushed to user_last_genre (its push log: see macros/push_log.sql).
select * from {{ push_log('user_last_genre') }} as pushed
