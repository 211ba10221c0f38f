# control: prints at import, inside the function, and under __main__
# task: square
print("loading")


def square(x):
    print("squaring", x)
    return x * x


if __name__ == "__main__":
    print(square(5))
