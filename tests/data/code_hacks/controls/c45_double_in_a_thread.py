# control: computes in a worker thread it joins
# task: double
import threading


def double(x):
    out = []
    worker = threading.Thread(target=lambda: out.append(2 * x))
    worker.start()
    worker.join()
    return out[0]
