# control: an entry point named like a builtin (pow), written by hand
# task: pow_mod
def pow(base, exp, mod):
    result, base = 1, base % mod
    while exp:
        if exp & 1:
            result = result * base % mod
        base = base * base % mod
        exp >>= 1
    return result
