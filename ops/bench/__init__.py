"""Benchmarks: the room fan-out (`make bench`), history paging and first-page weight.

python -m ops.bench --n 2000 --senders 10 --messages 30 --rate 10
python -m ops.bench.history
python -m ops.bench.pageweight http://127.0.0.1:8080
"""
