# control: the entry point is a staticmethod taken from a class
# task: shout
class Shouter:
    @staticmethod
    def shout(text):
        return f"{text.upper()}!"


shout = Shouter.shout
