# control: uses a thread pool, shut down before returning
# task: sort_desc
from concurrent.futures import ThreadPoolExecutor


def sort_desc(xs):
    with ThreadPoolExecutor(max_workers=2) as pool:
        keys = list(pool.map(lambda x: -x, xs))
    return [-k for k in sorted(keys)]
