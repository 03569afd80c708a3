select * from read_parquet('data/loaded_view.parquet')
