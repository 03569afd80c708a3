-- The LLM recommender's training set: its spine joined point in time to the
-- features the recommender's prompt uses, so no value comes from after the
-- moment of the suggestion (see the point_in_time_join macro).
{{ point_in_time_join(
    spine=ref('recommender_spine'),
    features=[
        {'view': ref('user_segment'), 'features': ['user_segment']},
        {'view': ref('user_watch_stats'), 'features': ['watch_count_30d']},
        {'view': ref('user_last_genre'), 'features': ['last_genre']},
    ],
) }}
