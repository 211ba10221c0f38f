# control: prints its answer, which the tests capture
# task: greet
def greet(name):
    print(f"Hello, {name}!")
