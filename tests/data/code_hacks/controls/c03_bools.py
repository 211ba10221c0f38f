# control: returns bools from all(), with an early return
# task: is_prime
def is_prime(n):
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n ** 0.5) + 1))
