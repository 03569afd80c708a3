select * from read_parquet('data/plain_view.parquet')
