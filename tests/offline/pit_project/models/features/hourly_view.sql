select * from read_parquet('data/hourly_view.parquet')
