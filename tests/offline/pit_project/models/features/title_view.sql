select * from read_parquet('data/title_view.parquet')
