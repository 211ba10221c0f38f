"""Table-driven cases for the math verifier: one table per category, negatives and hedges included."""
from __future__ import annotations

import json
import time

import pytest

from verifiers import Verdict, get_verifier
from verifiers.math import verify_math
from verifiers.math_extract import extract_answer

B = r"\boxed"

EXTRACTION = [
    # (completion, expected extracted text or None)
    (r"Thus the result is \boxed{\frac{3}{4}}.", r"\frac{3}{4}"),
    (r"First \boxed{2}. On reflection, \boxed{3}", "3"),
    (r"\fbox{7}", "7"),
    (r"The answer is $\frac{1}{2}$.", r"\frac{1}{2}"),
    ("Final answer: 42", "42"),
    ("Janet has 3 + 4 = 7 eggs.\n#### 7", "7"),
    ("<answer>12</answer>", "12"),
    (r"<answer>so \boxed{12}</answer>", "12"),
    ("<think>maybe 5</think>The answer is 6.", "6"),
    ("reasoning</think>\\boxed{9}", "9"),  # the template opened <think> in the prompt
    ("<think>never closed, answer is 5", None),
    ("3/4", "3/4"),
    ("x = 2", "x = 2"),
    ("So the total cost is 3 * 4 = 12 dollars.", "12"),
    ("She could have 3 or 4 apples.", "3 or 4"),
    ("The value is 2.5.", "2.5"),
    ("I cannot solve this.", None),
    (r"\boxed{1} or \boxed{2}", "1 or 2"),
    (r"\boxed{1}, \boxed{2}", "1, 2"),
    ("Each side of the square measures 4sqrt(2).", "4sqrt(2)"),
    ("Solving for t gives ln(5)", "ln(5)"),
    (r"The line is y = -\frac{1}{2}x + 4.", r"y = -\frac{1}{2}x + 4"),
    ("Adding up, 3 + 4 = 7 apples in all.", "7"),
    # Minerva endings and end-of-turn tokens
    (r"Final Answer: The final answer is $\frac{3}{7}$. I hope it is correct.", r"\frac{3}{7}"),
    ("Final Answer: The final answer is $5$. I hope it is correct.<|im_end|>\n<|im_start|>user\nThe answer is 6", "5"),
    ("Final Answer: The final answer is 8.<|endoftext|>Final Answer: 9", "8"),
    ("<|im_start|>assistant\nThe answer is 4.<|im_end|>", "4"),
    ("<|begin_of_thought|>maybe 4<|end_of_thought|>\n<|begin_of_solution|>So \\boxed{5}<|end_of_solution|>", "5"),
    ("So $x = 2$.</s>The answer is 3", "x = 2"),
    ("Final Answer: The total is 96.", "96"),
    ("The answer is actually 12.", "12"),
    ("Checking each option, the correct option is **B**.", "B"),
    ("**Answer:** 42", "42"),
    # other languages: the answer phrase, else the number the last sentence states
    ("所以答案是 42。", "42"),
    ("答案：每人 3/4 千克", "每人 3/4 千克"),  # normalisation drops the words around the number
    ("Réponse : 17 €", "17 €"),
    ("Die Antwort ist 11.", "11"),
    ("Ответ: 5.", "5"),
    ("لذلك فإن عدد الطلاب هو ٢٥.", "25"),
    ("इसलिए कुल लागत 150 रुपये है।", "150"),
    ("Il y a donc 1 250 000 habitants.", "1 250 000"),
    ("La respuesta es 1,5.", "1.5"),  # decimal comma where the language writes one
    ("The answer is 1,5.", "1,5"),    # ... and not in English
    # boxes: nested, joined by "and", labelled
    (r"So $\boxed{\boxed{7}}$.", "7"),
    (r"\boxed{-3} \text{ and } \boxed{2}", "-3, 2"),
    (r"\boxed{(1,4)} and \boxed{(4,1)}", "(1,4), (4,1)"),
    ("\\[\\boxed{2}\\]\n\\[\\boxed{-3}\\]", "2, -3"),
    (r"$x = \boxed{3}$, $y = \boxed{2}$", "x = 3, y = 2"),
    (r"First \boxed{3}. Then, correcting the sign, \boxed{-3}", "-3"),
    # relations in prose keep their operator
    ("Subtracting 5 from both sides gives x <= 3.", "x <= 3"),
    ("It is undefined at $x = 1$, so the domain is x != 1.", "x != 1"),
    ("The increase is 10, and 10/50 = 0.2, so the percentage increase is 20 percent.", "20%"),  # 20 is not 0.2
]


@pytest.mark.parametrize("completion, expected", EXTRACTION)
def test_extraction(completion, expected):
    found = extract_answer(completion)
    assert (found.text if found else None) == expected


def case(completion: str, reference: str, score: float | None, note: str = ""):
    return pytest.param(completion, reference, score, id=note or f"{completion[:30]}|{reference[:15]}")


EQUIVALENCE = [
    # integers, decimals, separators
    case(f"{B}{{42}}", "42", 1.0), case(f"{B}{{-42}}", "42", 0.0, "sign"), case(f"{B}{{43}}", "42", 0.0),
    case(f"{B}{{2.50}}", "2.5", 1.0), case(f"{B}{{2.54}}", "2.5", 0.0, "decimal answer not rounded"),
    case(f"{B}{{1,234}}", "1234", 1.0), case(f"{B}{{1\\,234}}", "1234", 1.0), case(f"{B}{{1{{,}}234}}", "1234", 1.0),
    case(f"{B}{{1,234,567}}", "1234567", 1.0), case(f"{B}{{1,235}}", "1234", 0.0),
    # fractions and mixed numbers
    case(f"{B}{{\\frac{{3}}{{4}}}}", "0.75", 1.0), case(f"{B}{{\\dfrac{{6}}{{8}}}}", "3/4", 1.0),
    case(f"{B}{{\\frac12}}", "0.5", 1.0), case(f"{B}{{\\tfrac{{1}}{{3}}}}", "\\frac{1}{3}", 1.0),
    case(f"{B}{{3\\frac{{1}}{{2}}}}", "7/2", 1.0, "mixed number"), case(f"{B}{{3\\frac{{1}}{{2}}}}", "3/2", 0.0),
    case("3 1/2", "3.5", 1.0, "plain mixed number"), case(f"{B}{{\\frac{{4}}{{3}}}}", "\\frac{3}{4}", 0.0),
    # radicals, pi, e
    case(f"{B}{{\\frac{{\\sqrt{{2}}}}{{2}}}}", "\\frac{1}{\\sqrt2}", 1.0), case("sqrt(2)/2", "\\frac{\\sqrt{2}}{2}", 1.0),
    case(f"{B}{{\\sqrt[3]{{8}}}}", "2", 1.0), case(f"{B}{{2\\sqrt{{3}}}}", "\\sqrt{12}", 1.0),
    case(f"{B}{{\\sqrt{{3}}}}", "\\sqrt{2}", 0.0), case(f"{B}{{2\\pi}}", "2\\pi", 1.0), case(f"{B}{{\\pi}}", "3.14", 1.0, "decimal ref rounds"),
    case(f"{B}{{3.14}}", "\\pi", 0.0, "decimal answer to exact ref"), case(f"{B}{{e^2}}", "\\exp(2)", 1.0),
    # scientific notation, percentages
    case(f"{B}{{1.5\\times 10^{{3}}}}", "1500", 1.0), case("1.5e3", "1500", 1.0), case(f"{B}{{1.5\\times10^{{4}}}}", "1500", 0.0),
    case(f"{B}{{50\\%}}", "50", 1.0), case(f"{B}{{50\\%}}", "0.5", 1.0), case(f"{B}{{0.5}}", "50\\%", 1.0),
    case("The answer is 25 percent.", "25\\%", 1.0), case(f"{B}{{40\\%}}", "0.5", 0.0),
    # units and wrappers
    case(f"{B}{{12\\text{{ cm}}}}", "12", 1.0), case(f"{B}{{30^\\circ}}", "30", 1.0), case(f"{B}{{30^{{\\circ}}}}", "30^\\circ", 1.0),
    case(f"{B}{{\\$12.50}}", "12.5", 1.0), case("The answer is 5 apples.", "5", 1.0), case(f"{B}{{\\text{{12 cm}}^2}}", "12", 1.0),
    case(f"{B}{{13\\text{{ cm}}}}", "12", 0.0), case(f"{B}{{2,400 \\text{{ liters}}}}", "2400", 1.0),
    # symbolic expressions, LaTeX and plain text
    case("cos(x)^2", "\\cos^2 x", 1.0), case(f"{B}{{2x+1}}", "1+2x", 1.0), case("2*x+1", "2x+1", 1.0),
    case("exp(x)", "e^x", 1.0), case("abs(x)", "|x|", 1.0), case(f"{B}{{x^2-1}}", "(x-1)(x+1)", 1.0),
    case(f"{B}{{\\sin^2 x + \\cos^2 x}}", "1", 1.0), case(f"{B}{{\\sin x}}", "\\cos x", 0.0, "function names"),
    case(f"{B}{{\\ln x}}", "\\log_2 x", 0.0), case(f"{B}{{X+1}}", "x+1", 0.0, "case"), case(f"{B}{{|x|}}", "x", 0.0),
    case(f"{B}{{\\sqrt{{x^2}}}}", "x", 0.0), case(f"{B}{{xy}}", "yx", 1.0), case(f"{B}{{x^2}}", "xy", 0.0),
    # equations vs values
    case("x=2", "2", 1.0), case(f"{B}{{2=x}}", "2", 1.0), case(f"{B}{{x=3}}", "2", 0.0),
    case(f"{B}{{y=1+2x}}", "y=2x+1", 1.0), case(f"{B}{{2y=4x+2}}", "y=2x+1", 1.0), case(f"{B}{{y=2x-1}}", "y=2x+1", 0.0),
    case(f"{B}{{2}}", "x=2", 1.0),
    # inequalities and intervals
    case(f"{B}{{x>2}}", "(2,\\infty)", 1.0), case(f"{B}{{x\\ge 2}}", "(2,\\infty)", 0.0), case(f"{B}{{[1,3)}}", "[1,3)", 1.0),
    case(f"{B}{{(1,3]}}", "[1,3)", 0.0), case(f"{B}{{1 < x \\le 3}}", "(1,3]", 1.0),
    case(f"{B}{{(-\\infty,1)\\cup(2,\\infty)}}", "x<1 \\text{ or } x>2", 1.0),
    case(f"{B}{{(-\\infty,1]\\cup(2,\\infty)}}", "(-\\infty,1)\\cup(2,\\infty)", 0.0),
    # sets and tuples
    case(f"{B}{{\\{{2,1\\}}}}", "\\{1,2\\}", 1.0), case(f"{B}{{(2,1)}}", "(1,2)", 0.0, "tuple order"),
    case(f"{B}{{(1,2)}}", "(1,2)", 1.0), case(f"{B}{{3, 1, 2}}", "1, 2, 3", 1.0), case(f"{B}{{1, 2}}", "1, 2, 3", 0.0),
    case(f"{B}{{\\left( 3, \\frac{{\\pi}}{{2}} \\right)}}", "\\left( 3, \\frac{\\pi}{2} \\right)", 1.0),
    case(f"{B}{{\\emptyset}}", "\\varnothing", 1.0),
    # matrices
    case(f"{B}{{\\begin{{pmatrix}} 1 \\\\ 2 \\end{{pmatrix}}}}", "\\begin{bmatrix}1\\\\2\\end{bmatrix}", 1.0),
    case(f"{B}{{\\begin{{pmatrix}} 1 & 2 \\\\ 3 & 4 \\end{{pmatrix}}}}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", 1.0),
    case(f"{B}{{\\begin{{pmatrix}} 1 & 3 \\\\ 2 & 4 \\end{{pmatrix}}}}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", 0.0),
    case(f"{B}{{(1, 2)}}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", 1.0, "vector as tuple"),
    # complex numbers
    case(f"{B}{{3+4i}}", "3+4i", 1.0), case(f"{B}{{4i+3}}", "3+4i", 1.0), case(f"{B}{{3-4i}}", "3+4i", 0.0),
    case(f"{B}{{e^{{i\\pi}}}}", "-1", 1.0),
    # numeric tolerance
    case(f"{B}{{1/3}}", "0.33", 1.0), case(f"{B}{{0.33}}", "\\frac13", 0.0), case(f"{B}{{0.1+0.2}}", "0.3", 1.0),
    # integrity: hedges, guess lists, several answers
    case("It is either 1 or 2.", "1", 0.0, "hedge in prose"), case(f"{B}{{1 \\text{{ or }} 2}}", "1", 0.0),
    case(f"{B}{{1, 2}}", "1", 0.0, "guess list"), case(f"{B}{{2}} or {B}{{3}}", "2", 0.0, "two boxes"),
    case(f"{B}{{\\pm 2}}", "2", 0.0), case(f"{B}{{\\pm 2}}", "\\pm 2", 1.0), case(f"{B}{{2, -2}}", "\\pm 2", 1.0),
    case("x = 1 or x = 2", "1", 0.0), case("x = 1 or x = 2", "1, 2", 1.0), case("x = 1 or x = 2", "\\{1,2\\}", 1.0),
    case(f"{B}{{2}} and {B}{{2}}", "2", 1.0, "same box twice"), case(f"First {B}{{3}}.\nSo finally {B}{{2}}", "2", 1.0),
    case(f"{B}{{\\text{{the answer is correct}}}}", "5", 0.0), case(f"{B}{{\\text{{any}}}}", "7", 0.0),
    # thinking
    case(f"<think>{B}{{5}}</think> The answer is 4.", "5", 0.0), case(f"<think>maybe 4</think> {B}{{5}}", "5", 1.0),
    case("<think>still going, 5", "5", None), case("I am not sure.", "5", None),
    # text answers
    case(f"{B}{{\\text{{Tuesday}}}}", "Tuesday", 1.0), case(f"{B}{{\\text{{Monday}}}}", "Tuesday", 0.0),
]


# Issue 19: the forms graders still disagreed on, and false positives. One table per class; each
# has cases that must match and cases that must not.
ROUND3 = {
    "words": [  # the same words after trivial normalisation; case, articles and text commands aside
        (r"\boxed{\text{Yes}}", "yes", 1.0), (r"\boxed{yes}", r"\text{Yes}", 1.0), (r"\boxed{\text{No}}", r"\text{Yes}", 0.0),
        (r"\boxed{\text{an ellipse}}", r"\text{ellipse}", 1.0), (r"\boxed{\text{a hyperbola}}", r"\text{ellipse}", 0.0),
        ("The answer is bob.", r"\text{Bob}", 1.0), ("The answer is Tom.", r"\text{Bob}", 0.0),
        (r"\boxed{\textbf{odd}}", "odd", 1.0), (r"\boxed{\text{Odd}}", r"\text{even}", 0.0),
        (r"\boxed{\text{The circle}}", "circle", 1.0), (r"\boxed{\mbox{North-East}}", "north east", 1.0),
        (r"\boxed{\text{north west}}", "north east", 0.0), (r"\boxed{\text{False}}", "true", 0.0),
        ("The answer is: the empty set.", r"\emptyset", 1.0), (r"\boxed{\text{no solution}}", r"\varnothing", 1.0),
        (r"\boxed{\text{all real numbers}}", r"(-\infty, \infty)", 1.0), (r"\boxed{xy}", "yx", 1.0),  # a product stays one
    ],
    "text after the answer": [
        ("So the answer is 42.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat about 43?", "42", 1.0),
        ("So the answer is 42.<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>It is 43", "42", 1.0),
        ("So the answer is 42. [/INST] The answer is 43", "42", 1.0), ("So the answer is 42.<eos>The answer is 43", "42", 1.0),
        ("So the answer is 42.<|EOT|>The answer is 43", "43", 0.0),
        ("Final Answer: 42 — hope that helps!", "42", 1.0), ("**Final Answer:** 42, which is what we wanted to show.", "42", 1.0),
        ("The answer is 42! Hope that helps.", "42", 1.0), ("The answer is $5!$.", "120", 1.0),  # a factorial still
        ("Answer:\n$$\n\\frac{3}{4}\n$$\nThis follows since 3 of the 4 parts are shaded.", "3/4", 1.0),
        ("**Answer**\n\n\\[\nx = 5\n\\]\n\nWe check: 2(5) + 1 = 11.", "5", 1.0),
        ("**Answer**\n\n\\[\nx = 5\n\\]\n\nWe check: 2(5) + 1 = 11.", "11", 0.0),
        ("So the answer is 12.\n\nQuestion: A farmer has 20 cows. Answer: 20", "12", 1.0),
        ("So the answer is 12.\n\n### Instruction:\nSolve 5+5.\n\n### Response:\n10", "10", 0.0),
        ("Problem: find 6 times 7.\nWe multiply: 6 * 7 = 42.\nThe answer is 42.", "42", 1.0),  # a restated problem is no turn
    ],
    "digit grouping and decimal commas": [
        ("The final answer is $1,234,567$.", "1234567", 1.0), ("Final Answer: The final answer is $12{,}345$. I hope it is correct.", "12345", 1.0),
        ("The answer is $1\\,000\\,000$.", "1000000", 1.0), ("The answer is $1~000$", "1000", 1.0), ("The answer is $1\\ 000$.", "1000", 1.0),
        (r"\boxed{3,5}", "3.5", 1.0), (r"\boxed{0,25}", "1/4", 1.0), (r"\boxed{12,50}", "12.5", 1.0), (r"\boxed{1.234,5}", "1234.5", 1.0),
        (r"\boxed{3,5}", "3, 5", 1.0), (r"\boxed{3, 5}", "3.5", 0.0), (r"\boxed{1,234}", "1.234", 0.0), (r"\boxed{3,5}", "35", 0.0),
        (r"\boxed{3,6}", "3.5", 0.0),
    ],
    "LaTeX from JSON and tools": [
        ("\\\\boxed{\\\\frac{1}{2}}", "0.5", 1.0), ("The answer is $\\\\frac{\\\\sqrt{3}}{2}$.", r"\frac{\sqrt3}{2}", 1.0),
        (r"\boxed{\frac{1}{2}}", "\\\\frac{1}{2}", 1.0), ("\\\\boxed{\\\\frac{1}{3}}", "0.5", 0.0), ("\\\\boxed{\\\\dfrac{3}{4}}", "0.75", 1.0),
        (r"\boxed{\frac{1}{2}\hspace{1mm}}", "0.5", 1.0), (r"\boxed{\mspace{2mu}5}", "5", 1.0), (r"\boxed{5\thinspace\text{cm}}", "5", 1.0),
        (r"\boxed{2\dfrac{1}{2}+\tfrac{3}{4}}", "3.25", 1.0), (r"\boxed{\frac\pi2}", r"\pi/2", 1.0), (r"\boxed{\frac{\sqrt3}2}", r"\frac{\sqrt{3}}{2}", 1.0),
        (r"\boxed{\dfrac{x+1}{x-1}\cdot 2}", r"\frac{2x+2}{x-1}", 1.0), (r"\boxed{\left(\dfrac{1}{2}\right)^{2}}", "1/4", 1.0),
        (r"\boxed{\begin{pmatrix}1\\\\2\end{pmatrix}}", r"\begin{pmatrix}1\\2\end{pmatrix}", 1.0),  # a row break is not doubling
    ],
    "labelled references": [
        (r"\boxed{5}", "|AB| = 5", 1.0), (r"\boxed{5}", r"\text{length} = 5", 1.0), (r"\boxed{6}", r"\text{length} = 5", 0.0),
        (r"\boxed{5}", r"BC = 5\text{ cm}", 1.0), (r"\boxed{4}", r"\text{ratio} = 4", 1.0), (r"\boxed{2:3}", "AB:BC = 2:3", 1.0),
        (r"\boxed{3:2}", "AB:BC = 2:3", 0.0), (r"\boxed{\frac{2}{3}}", r"\frac{AB}{BC} = \frac{2}{3}", 1.0),
        (r"\boxed{\frac{1}{2}}", r"\sin \theta = \frac{1}{2}", 1.0), (r"\boxed{\frac{1}{3}}", r"\sin \theta = \frac{1}{2}", 0.0),
        (r"\boxed{2, 3}", "x_1 = 2, x_2 = 3", 1.0), (r"\boxed{3, 2}", "x_1 = 2, x_2 = 3", 1.0), (r"\boxed{2, 4}", "x_1 = 2, x_2 = 3", 0.0),
        ("$x = 2$ or $x = 3$", "x_1 = 2, x_2 = 3", 1.0), (r"\boxed{x_{1,2} = 2, 3}", "2, 3", 1.0),
    ],
    "several answers": [
        ("(a) The mean is $\\boxed{5}$.\n(b) The median is $\\boxed{7}$.", "5, 7", 1.0),
        ("(a) The mean is $\\boxed{5}$.\n(b) The median is $\\boxed{8}$.", "5, 7", 0.0),
        ("The roots are $\\boxed{2}$ and also $\\boxed{3}$.", "2, 3", 1.0), ("x is $\\boxed{2}$, while y is $\\boxed{3}$", "(2, 3)", 1.0),
        ("x is $\\boxed{3}$, while y is $\\boxed{2}$", "(2, 3)", 0.0),
        ("First \\boxed{3}. On reflection, \\boxed{5}", "3, 5", 0.0),  # a correction is no second part
        (r"\boxed{2, 3}", r"2 \text{ or } 3", 1.0), (r"\boxed{2}", r"2 \text{ or } 3", 0.0), (r"\boxed{2 \text{ or } 3}", "2, 3", 1.0),
        (r"\boxed{3 \text{ apples and } 5 \text{ oranges}}", "3, 5", 1.0), ("The answer is 3 cm and 4 cm.", "3, 4", 1.0),
        (r"\boxed{12 \text{ boys}, 8 \text{ girls}}", "12, 8", 1.0), (r"\boxed{12 \text{ boys}, 9 \text{ girls}}", "12, 8", 0.0),
    ],
    "relations and intervals": [
        (r"\boxed{[2, \infty)}", r"f(x) \ge 2", 1.0), (r"\boxed{f(x) \geq 2}", r"[2, +\infty)", 1.0), (r"\boxed{(2, \infty)}", r"f(x) \ge 2", 0.0),
        (r"\boxed{[2, 5]}", r"2 \leq f(x) \leq 5", 1.0), (r"\boxed{[2, 5)}", r"2 \leq f(x) \leq 5", 0.0),
        (r"\boxed{]2, 5[}", "(2, 5)", 1.0), (r"\boxed{[2, 5[}", "[2, 5)", 1.0), (r"\boxed{[2, 5[}", "[2, 5]", 0.0),
        (r"\boxed{\mathbb{R} \setminus \{3\}}", r"x \ne 3", 1.0), (r"\boxed{\mathbb{R} \setminus \{3\}}", r"x \ne 4", 0.0),
        (r"\boxed{x \geq 2 \text{ and } x \leq 5}", "[2,5]", 1.0), (r"\boxed{(0, \infty)}", r"\mathbb{R}^+", 1.0),
        (r"\boxed{|x| > 1}", r"(-\infty,-1)\cup(1,\infty)", 1.0), ("The range is $y \\geq -4$.", r"[-4, \infty)", 1.0),
    ],
    "indexed terms": [
        (r"\boxed{a_1a_2 + a_3}", "a_3 + a_2 a_1", 1.0), (r"\boxed{x_{1}x_{2}}", "x_2x_1", 1.0), (r"\boxed{a_{n+1} + a_n}", "a_n + a_{n+1}", 1.0),
        (r"\boxed{a_{ij}b_{jk}}", "b_{jk}a_{ij}", 1.0), (r"\boxed{(a_1+a_2)(b_1+b_2)}", "a_1b_1+a_1b_2+a_2b_1+a_2b_2", 1.0),
        (r"\boxed{x_1 - x_2}", "x_2 - x_1", 0.0), (r"\boxed{x_{10}x_2}", "x_2 x_{10}", 1.0), (r"\boxed{x_1 x_2}", "x_1 x_3", 0.0),
    ],
    "percent in words": [  # p% matches p/100 and p; a bare p is not p/100
        ("The answer is 25 percent.", "0.25", 1.0), ("So the increase is 20 percent.", "0.2", 1.0), ("So about 12.5 percent of them.", "0.125", 1.0),
        (r"\boxed{25\text{ percent}}", r"\frac{1}{4}", 1.0), ("The answer is twenty-five percent.", "0.25", 1.0),
        (r"\boxed{25 \text{ percent}}", "0.4", 0.0), (r"\boxed{25}", "0.25", 0.0), ("So the increase is 20.", "0.2", 0.0),
    ],
    "code is no answer": [
        ("```python\ndef f(n):\n    return n * 2\nprint(f(21))\n```", "42", None), ("```python\nprint(42)\n```", "42", None),
        ("answer = 42\nprint(answer)", "42", None), ("def solve():\n    return 42", "42", None), ("x = 42;", "42", None),
        ('int main() { printf("%d", 42); return 0; }', "42", None), ("console.log(6 * 7); // 42", "42", None),
        ("There are 6 groups of 7.\n```python\nprint(6 * 7)\n```", "7", None),  # ended in code: no last-line answer
        ("Here is code:\n```\nx = 6 * 7\n```\nThe answer is 42.", "42", 1.0), ("```python\nresult = 6*7\n```\n\\boxed{42}", "42", 1.0),
        ("```\n42\n```", "42", 1.0), ("We compute 6 * 7 = 42", "42", 1.0),
    ],
    "long decimals": [  # a print-out of 12+ digits is the exact value only if every digit it prints is right
        (r"\boxed{0.142857142857143}", "1/7", 1.0), (r"\boxed{0.142857142857999}", "1/7", 0.0), (r"\boxed{1.7320508075688772}", r"\sqrt{3}", 1.0),
        (r"\boxed{1.73205080756999}", r"\sqrt{3}", 0.0), (r"\boxed{3.1415926535898}", r"\pi", 1.0), (r"\boxed{3.1415926535899}", r"\pi", 0.0),
        (r"\boxed{e^{0.693}}", "2.00", 0.0), (r"\boxed{2^{0.5}}", "1.41", 0.0), (r"\boxed{10^{0.30103}}", "2.0", 0.0),  # a decimal inside: not exact
        (r"\boxed{\frac{1}{3}}", "0.33", 1.0), (r"\boxed{\sqrt{2}}", "1.41", 1.0), (r"\boxed{1.5e-3}", "0.0015", 1.0),
    ],
    "powers: symbols are real": [
        (r"\boxed{(x^2)^{1/2}}", "x", 0.0), (r"\boxed{\sqrt{x^2}}", "|x|", 1.0), (r"\boxed{\ln e^x}", "x", 1.0), (r"\boxed{e^{\ln x}}", "x", 1.0),
        (r"\boxed{(x^{1/2})^2}", "x", 1.0), (r"\boxed{x^{1/3}x^{1/3}}", "x^{2/3}", 1.0), (r"\boxed{(x^{2})^{3}}", "x^6", 1.0),
        (r"\boxed{\sqrt{x}\sqrt{y}}", r"\sqrt{xy}", 0.0), (r"\boxed{\ln(xy)}", r"\ln x + \ln y", 0.0), (r"\boxed{(x^a)^b}", "x^{ab}", 0.0),
        (r"\boxed{(xy)^{1/2}}", r"x^{1/2}y^{1/2}", 0.0), (r"\boxed{x^{m}x^{n}}", "x^{m+n}", 1.0), (r"\boxed{(x^3)^{1/3}}", "x", 1.0),
        (r"\boxed{(x^2)^{1/4}}", r"\sqrt{x}", 0.0), (r"\boxed{x^{2/3}}", r"\sqrt[3]{x^2}", 1.0), (r"\boxed{x^{3/2}}", r"\sqrt[3]{x^2}", 0.0),
        (r"\boxed{(-1)^{2n}}", "1", 1.0), (r"\boxed{\sin(n\pi)}", "0", 1.0), (r"\boxed{(-1)^{2x}}", "1", 0.0),  # n, m, k are integers
        (r"\boxed{2^3^2}", "512", 1.0), (r"\boxed{a^{b^c}}", "(a^b)^c", 0.0), (r"\boxed{\sqrt[3]{-8}}", "-2", 1.0), (r"\boxed{(-8)^{1/3}}", "-2", 1.0), (r"\boxed{(-8)^{1/2}}", "-2", 0.0),
    ],
    "equations and parts": [
        (r"\boxed{2x+1}", "y = 2x + 1", 1.0), (r"\boxed{y = 2x+1}", "2x+1", 1.0), (r"\boxed{2x+1}", "f(x) = 2x + 1", 1.0),
        (r"\boxed{5}", "x + y = 5", 0.0), (r"\boxed{5}", "a + b = 5", 0.0), (r"\boxed{0}", "x^2 - 4 = 0", 0.0),
        (r"\boxed{5}", "x = 5", 1.0), (r"\boxed{4}", "y = 4", 1.0), (r"\boxed{-\frac{b}{2a}}", r"x = -\frac{b}{2a}", 1.0),
        (r"\boxed{2\cos\theta}", r"r = 2\cos\theta", 1.0), (r"\boxed{25}", "x^2 + y^2 = 25", 0.0),
        (r"\boxed{5, 7}", "(a) 5, (b) 7", 1.0), (r"\boxed{7, 5}", "(a) 5, (b) 7", 0.0), ("(a) 7 (b) 5", "(a) 5 (b) 7", 0.0),
        (r"\boxed{5}, \boxed{7}", "(1) 5; (2) 7", 1.0), (r"\boxed{7}, \boxed{5}", "(1) 5; (2) 7", 0.0),
        (r"\boxed{(a)\ 5,\ (b)\ 7}", "5, 7", 1.0), (r"\boxed{5, 7}", r"\text{(i) } 5 \text{ (ii) } 7", 1.0),
        (r"\boxed{7, 5}", "Part 1: 5, Part 2: 7", 0.0), ("(a) $\\boxed{5}$ (b) $\\boxed{7}$", "(a) 5 (b) 7", 1.0),
        ("(a) $\\boxed{7}$ (b) $\\boxed{5}$", "(a) 5 (b) 7", 0.0), (r"\boxed{5}", "(a) 5 (b) 7", 0.0), (r"\boxed{(C) 12}", "C", 1.0),
    ],
}


@pytest.mark.parametrize("completion, reference, score", [
    pytest.param(c, r, s, id=f"{cls}: {c[:40]}|{r[:20]}") for cls, rows in ROUND3.items() for c, r, s in rows
])
def test_round_three_classes(completion, reference, score):
    verdict = verify_math(completion, reference)
    if score is None:
        assert verdict.status == "no_answer", verdict
    else:
        assert (verdict.status, verdict.score) == ("ok", score), verdict


@pytest.mark.parametrize("completion, reference, real, positive", [
    (r"\boxed{(x^a)^b}", "x^{ab}", 0.0, 1.0), (r"\boxed{\sqrt{x}\sqrt{y}}", r"\sqrt{xy}", 0.0, 1.0),
    (r"\boxed{\ln(ab)}", r"\ln a + \ln b", 0.0, 1.0), (r"\boxed{|x|}", "x", 0.0, 1.0), (r"\boxed{x^2}", "x", 0.0, 0.0),
])
def test_a_sample_may_say_its_symbols_are_positive(completion, reference, real, positive):
    assert verify_math(completion, reference).score == real
    assert verify_math(completion, reference, symbols="positive").score == positive
    assert verify_math(completion, reference, symbols="complex").status == "invalid_reference"


# Formats of real model outputs (issue 13): each with a case that must match and one that must not.
FORMATS = [
    # a hallucinated next turn in plain text ends the answer, whatever it says
    ("So the answer is 64.\n\nUser: Actually I think it's 65.\n\nAssistant: You're right, it is 65.", "65", 0.0),
    ("So $x = 4$.\n\nUser: Great, now find y if y = x + 3.\nAssistant: y = 7", "4", 1.0),
    ("The answer is 9.\n### Human: and 10?", "9", 1.0),
    # Minerva endings, chat-template leftovers
    case("Final Answer: The final answer is $\\frac{3}{7}$. I hope it is correct.<|im_end|>\n<|im_start|>user\nHi", "3/7", 1.0),
    case("Final Answer: The final answer is $\\frac{3}{8}$. I hope it is correct.", "3/7", 0.0),
    case("Final Answer: The total is 96.", "96", 1.0), case("Final Answer: The total is 69.", "96", 0.0),
    # other languages
    case("所以答案是 42。", "42", 1.0), case("所以答案是 24。", "42", 0.0), case("答案：每人 3/4 千克", "0.75", 1.0),
    case("Réponse : 17 €", "17", 1.0), case("Réponse : 18 €", "17", 0.0), case("अतः उत्तर 64 है।", "64", 1.0),
    case("لذلك فإن عدد الطلاب هو 25.", "25", 1.0), case("لذلك فإن عدد الطلاب هو 26.", "25", 0.0),
    # thousands separators in every form, and the decimal-comma convention
    case(f"{B}{{12,\\!345}}", "12345", 1.0), case(f"{B}{{3{{,}}200}}", "3200", 1.0), case("It costs \\$2,450.", "2450", 1.0),
    case(f"{B}{{45,\\! 000}}", "45000", 1.0), case("The answer is 1 250 000.", "1250000", 1.0),
    case(f"{B}{{45,\\! 001}}", "45000", 0.0), case("The answer is 1 250 001.", "1250000", 0.0),
    case("Donc la réponse est 3,5.", "3.5", 1.0, "decimal comma in French"),
    case("So the answer is $3,5$.", "3.5", 1.0, "a bare 3,5 against one number is a decimal comma (issue 19)"),
    case("So the answer is $3, 5$.", "3.5", 0.0, "with a space it is a list, in any language"),
    case(f"The roots are 3 and 5, so {B}{{3,5}}.", "3, 5", 1.0, "English comma lists"),
    case("Réponse : 3,5", "3, 5", 0.0, "French 3,5 is one number"),
    # labelled answers
    case(f"{B}{{(2,5)}}", "(a,b)=(2,5)", 1.0), case(f"{B}{{(5,2)}}", "(a,b)=(2,5)", 0.0),
    case(f"{B}{{3:8}}", "m:n=3:8", 1.0), case(f"{B}{{6:16}}", "3:8", 1.0, "proportional ratio"), case(f"{B}{{8:3}}", "3:8", 0.0),
    case(f"{B}{{y=3x-1}}", "g(x)=3x-1", 1.0), case(f"{B}{{y=3x+1}}", "g(x)=3x-1", 0.0), case(f"{B}{{x=3}}", "y=3", 0.0),
    case(f"{B}{{f^{{-1}}(x) = \\frac{{x-3}}{{2}}}}", "\\frac{x-3}{2}", 1.0),
    case(f"{B}{{x=1, y=-2, z=3}}", "(x,y,z)=(1,-2,3)", 1.0), case(f"{B}{{x=1, y=3, z=-2}}", "(x,y,z)=(1,-2,3)", 0.0),
    case(f"{B}{{(a, b) = (3, -2)}}", "a=3, b=-2", 1.0), case(f"{B}{{y = 2, x = 3}}", "(3, 2)", 1.0),
    case(f"{B}{{\\angle ABC = 38^\\circ}}", "38^\\circ", 1.0), case(f"{B}{{AB = 5}}", "5", 1.0),
    case(f"{B}{{f(2) = 5}}", "5", 1.0), case(f"{B}{{f(2) = 5}}", "f(3) = 5", 0.0, "values at different points"),
    case(f"{B}{{S = \\{{1; 2; 3\\}}}}", "\\{1,2,3\\}", 1.0),
    # an equation states a value only through a label
    case(f"{B}{{0}}", "2a - b = 0", 0.0, "no lone variable"), case(f"{B}{{3}}", "x = 3", 1.0), case(f"{B}{{5}}", "2x = 5", 0.0),
    case(f"{B}{{7}}", "3 + 4 = 7", 1.0),
    # several boxes against several values; semicolons
    case(f"{B}{{(1,4)}} and {B}{{(4,1)}}", "(1,4),(4,1)", 1.0), case(f"{B}{{-3}} \\text{{ and }} {B}{{2}}", "2, -3", 1.0),
    case(f"{B}{{-3}} \\text{{ and }} {B}{{2}}", "2", 0.0, "several against one stays a hedge"),
    case(f"{B}{{-4;-1;3}}", "-4, -1, 3", 1.0), case(f"{B}{{(1;2;0)}}", "(1,2,0)", 1.0), case(f"{B}{{(2;1;0)}}", "(1,2,0)", 0.0),
    # relations
    case(f"{B}{{x<=3}}", "x \\le 3", 1.0), case(f"{B}{{x>=3}}", "x \\ge 3", 1.0), case(f"{B}{{x!=3}}", "x \\ne 3", 1.0),
    case(f"{B}{{x<3}}", "x \\le 3", 0.0), case(f"{B}{{a>b}}", "b<a", 1.0), case(f"{B}{{2a>2b}}", "a>b", 1.0),
    case(f"{B}{{a>b}}", "a<b", 0.0), case(f"{B}{{y \\in [1,5]}}", "1 \\le y \\le 5", 1.0),
    case(f"{B}{{y \\in [1,5)}}", "1 \\le y \\le 5", 0.0), case(f"{B}{{\\{{x \\mid x > 2\\}}}}", "(2, \\infty)", 1.0),
    case(f"{B}{{x/2 + y/3 = 1}}", "3x + 2y = 6", 1.0), case(f"{B}{{y = 3 - 1.5x}}", "3x + 2y = 6", 1.0),
    case(f"{B}{{y = 3 - 2x}}", "3x + 2y = 6", 0.0), case(f"{B}{{\\sin x > 0}}", "x > 0", 0.0, "sympy cannot solve it"),
    # long decimals of exact values; coarse rounding stays wrong
    case(f"{B}{{0.142857142857143}}", "1/7", 1.0), case(f"{B}{{1.7320508075688772}}", "\\sqrt{3}", 1.0),
    case(f"{B}{{0.666666666666}}", "2/3", 1.0, "truncated print-out"), case(f"{B}{{1.4142135623830951}}", "\\sqrt{2}", 0.0),
    case(f"{B}{{0.14285714285}}", "1/7", 0.0, "11 digits"), case(f"{B}{{0.33}}", "1/3", 0.0),
    # \approx tails mean the exact part
    case(f"{B}{{\\frac{{\\sqrt2}}{{2}} \\approx 0.707}}", "\\frac{\\sqrt{2}}{2}", 1.0),
    case(f"{B}{{\\frac{{\\sqrt2}}{{2}}}}", "\\frac{\\sqrt{2}}{2} \\approx 0.707", 1.0),
    case(f"{B}{{\\frac{{\\sqrt3}}{{2}} \\approx 0.707}}", "\\frac{\\sqrt{2}}{2}", 0.0),
    case(f"{B}{{\\approx 0.707}}", "\\frac{\\sqrt{2}}{2}", 0.0), case(f"{B}{{x \\approx 2.83}}", "2.83", 1.0),
    # the same text is the same answer, before any parsing; quantifier clauses carry no value
    case(f"{B}{{x \\in \\{{-2\\}} \\cup [1,4)}}", "x \\in \\{-2\\} \\cup [1,4)", 1.0),
    case(f"{B}{{x \\in \\{{-2\\}} \\cup [1,4]}}", "x \\in \\{-2\\} \\cup [1,4)", 0.0),
    case("The answer is even $k$.", "even $k$", 1.0), case("The answer is odd $k$.", "even $k$", 0.0),
    case(f"{B}{{2k\\pi \\text{{ for some integer }} k}}", "2\\pi k", 1.0),
    case(f"{B}{{x = \\frac{{\\pi}}{{2}} + k\\pi, \\ k \\in \\mathbb{{Z}}}}", "\\frac{\\pi}{2} + k\\pi", 1.0),
    case(f"{B}{{x = \\frac{{\\pi}}{{2}} + 2k\\pi \\text{{ where }} k \\in \\mathbb{{Z}}}}", "\\frac{\\pi}{2} + k\\pi", 0.0),
    # LaTeX variants
    case(f"{B}{{\\frac34}}", "0.75", 1.0), case(f"{B}{{\\frac1{{8}}}}", "0.125", 1.0), case(f"{B}{{\\tfrac{{1}}{{8}}}}", "0.125", 1.0),
    case(f"{B}{{5\\textnormal{{ km}}}}", "5", 1.0), case(f"{B}{{6\\textnormal{{ km}}}}", "5", 0.0), case(f"{B}{{5\\mbox{{ m}}}}", "5", 1.0),
    case(f"{B}{{5\\\\}}", "5", 1.0), case(f"{B}{{5\\}}", "5", 1.0), case(f"{B}{{5.}}", "5", 1.0),
    case(f"{B}{{7weeks}}", "7", 1.0), case(f"{B}{{12cm}}", "12", 1.0), case(f"{B}{{8weeks}}", "7", 0.0),
    case(f"{B}{{3xy}}", "3", 0.0, "a product, not a unit"), case(f"{B}{{2ω}}", "2\\omega", 1.0), case(f"{B}{{2ω}}", "2\\theta", 0.0), case(f"{B}{{\\langle 1, -2, 3 \\rangle}}", "(1,-2,3)", 1.0),
    case(f"{B}{{\\sin(\\pi/2 - x)}}", "\\cos x", 1.0), case(f"{B}{{\\sin(\\pi/2 + 2x)}}", "\\cos x", 0.0),
    # times of day
    case(f"{B}{{20:34}}", "8:34 PM", 1.0), case(f"{B}{{8:34 \\text{{ p.m.}}}}", "20:34", 1.0), case(f"{B}{{8:34 AM}}", "20:34", 0.0),
    case(f"{B}{{\\text{{12:00 midnight}}}}", "00:00", 1.0), case(f"{B}{{\\text{{12:00 AM}}}}", "12:00 PM", 0.0),
    # multiple choice
    case("The area is 12.\n(C) 12", "C", 1.0), case(f"So the answer is {B}{{\\textbf{{(D) }}7}}.", "D", 1.0),
    case(f"So the answer is {B}{{\\textbf{{(D) }}7}}.", "7", 1.0), case(f"So the answer is {B}{{\\textbf{{(D) }}7}}.", "C", 0.0),
]


@pytest.mark.parametrize("completion, reference, score", EQUIVALENCE + FORMATS)
def test_equivalence(completion, reference, score):
    verdict = verify_math(completion, reference)
    if score is None:
        assert verdict.status == "no_answer", verdict
    else:
        assert verdict.status == "ok" and verdict.score == score, verdict


ADVERSARIAL = [
    # (completion, reference, expected score): every one judged (status ok), within 2 s
    (r"\boxed{9^{9^{9^{9}}}}", "1", 0.0),
    (r"\boxed{10^{10^{10^{10}}}}", "1", 0.0),
    (r"\boxed{e^{e^{e^{e^{10}}}}}", "0", 0.0),
    (r"\boxed{10^{10^{10}}}", "100", 0.0),
    (r"\boxed{2^{2^{2^{2^{2}}}}}", "4", 0.0),
    (r"\boxed{2^{100000}+1}", "2^{100000}", 0.0),
    (r"\boxed{9^{9^9} - 9^{9^9}}", "0", 1.0),
    (r"\boxed{" + "(" * 3000 + "1" + ")" * 3000 + "}", "1", 1.0),
    (r"\boxed{" + r"\frac{1}{" * 500 + "2" + "}" * 500 + "}", "2", 1.0),
    (r"\boxed{" + r"\frac{1}{" * 5000 + "2" + "}" * 5000 + "}", "2", 0.0),  # true, but beyond the token budget
    (r"\boxed{100000000!}", "1", 0.0),
    (r"\boxed{" + "+".join(["1"] * 5000) + "}", "5000", 1.0),
    (r"\boxed{" + "9" * 5000 + "}", "9", 0.0),
    (r"\boxed{(x+1)^{100000}}", "x", 0.0),
    (r"\boxed{(x+1)^{100000} - (x+1)^{100000}}", "0", 1.0),
    (r"\boxed{x^{100000} > 2}", "x > 1", 0.0),
    (r"\boxed{x^{10000} - x^{9999} > 2}", "x > 1", 0.0),  # sympy's solver ran for minutes on it
    (r"\boxed{a^{1000} > b}", "a > b", 0.0),
    (r"\boxed{e^{e^{e^{10}}} > x}", "x < 1", 0.0),
    (r"\boxed{" + r"\boxed{" * 2000 + "1" + "}" * 2001, "1", 1.0),
    (" " * 100_000 + "7" + " " * 100_000, "7", 1.0),
    (r"\boxed{1" + " " * 50_000 + "x}", "1", 0.0),  # long inner runs of spaces: no regex may go cubic
    ("The answer is 5" + " " * 50_000 + "percent", "5", 1.0),
    ("We have 5" + " " * 50_000 + "apples here", "5", 1.0),
    ("7" + "weeks" * 20_000, "7", 1.0),
    (r"\boxed{0." + "1" * 3900 + "}", "1/9", 1.0),
    (r"\boxed{9^{9^{9}} : 1}", "1:1", 0.0),
    ("答案是 " + "四" * 100_000 + " 5", "5", 1.0),
]


@pytest.mark.parametrize("completion, reference, expected", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_inputs_end_quickly(completion, reference, expected):
    start = time.perf_counter()
    verdict = verify_math(completion, reference)
    assert time.perf_counter() - start < 2.0
    assert (verdict.status, verdict.score) == ("ok", expected), verdict.reason


# Issue 19's escape hatch: an answer built to exhaust a budget was `timeout`, so masked, so never
# penalised. Each budget, against small and large references: judged wrong (status ok, score 0),
# by size where sizes prove it ("they differ"), else because it cannot be checked.
SIZED, UNCHECKABLE, BEYOND = "they differ", "cannot be checked: judged wrong", "beyond the evaluation budget"
BUDGET_ANSWERS = [
    # (answer, what it exhausts, reason against a number reference)
    (r"10^{10^{100}}", "integer exponent over 10^12", SIZED),
    (r"-10^{10^{100}}", "the same, negative", SIZED),
    (r"10^{-10^{100}}", "the same, tiny", SIZED),
    (r"3 \cdot 10^{10^{100}} + 7", "a sum with one dominant term", SIZED),
    (r"\sqrt{10^{10^{100}}}", "a root of one", SIZED),
    (r"|10^{10^{100}}|", "an absolute value of one", SIZED),
    (r"10^{10^{10^{10}}}", "a tower", SIZED),
    (r"9^{9^{9^{9}}}", "a tower", SIZED),
    (r"2^{2^{2^{2^{2^{2}}}}}", "a tower", SIZED),
    (r"e^{e^{e^{10}}}", "a non-integer exponent over 10^6", SIZED),
    (r"e^{e^{e^{e^{10}}}}", "a tower too tall to size", UNCHECKABLE),
    (r"100000000!", "factorial over 5000", SIZED),
    (r"(10^{100})!", "factorial of a large number", SIZED),
    (r"(2^{10^{6}})!", "factorial of a huge power (sympy took minutes)", SIZED),
    (r"\binom{10^{6}}{500000}", "binomial over 20000 digits (sympy took 90 s)", SIZED),
    (r"\binom{10^{100}}{10^{50}}", "binomial (sympy never returned)", SIZED),
    (r"10^{10^{100}} - 10^{10^{100}} \cdot 2", "a sum whose size is its dominant term", SIZED),
    (r"\sin(10^{10^{100}})", "a function of one", UNCHECKABLE),
    (r"10^{10^{100}} - \frac{10^{10^{100}+1}}{10}", "terms of one size, which may cancel (and do)", UNCHECKABLE),
    (r"(10^{10^{100}}, 3)", "a tuple holding one", UNCHECKABLE),
    (r"10^{10^{100}} > 3", "an inequality holding one", UNCHECKABLE),
    ("9" * 25_000, "a number of more than 20000 digits", BEYOND),
    (r"\frac{1}{" * 5000 + "2" + "}" * 5000, "more than 20000 tokens", BEYOND),
    ("-" * 700 + "1", "nesting deeper than 600", BEYOND),
    (", ".join(["1"] * 300), "a list of more than 256 items", BEYOND),
    (r" \cup ".join(f"({i}, {i}.5)" for i in range(20)), "a union of more than 16 sets (sympy: 3 s for 64)", BEYOND),
    ("+".join(f"a_{{{i}}}" for i in range(50)), "more than 40 variables", BEYOND),
]
BUDGET_REFERENCES = ["3", "0", "-7/2", "10^{100}", "9^{9^9}", "2^{100000}", "x + 1"]


@pytest.mark.parametrize("reference", BUDGET_REFERENCES)
@pytest.mark.parametrize("answer, budget, reason", BUDGET_ANSWERS, ids=[b for _, b, _ in BUDGET_ANSWERS])
def test_an_answer_beyond_a_budget_is_judged_wrong(answer, budget, reason, reference):
    start = time.perf_counter()
    verdict = verify_math(f"the answer is \\boxed{{{answer}}}", reference)
    assert time.perf_counter() - start < 2.0
    assert (verdict.status, verdict.score) == ("ok", 0.0), verdict
    if reason == SIZED and "x" in reference:
        reason = UNCHECKABLE  # a size says nothing against a symbolic reference
    assert reason in verdict.reason, verdict.reason


@pytest.mark.parametrize("completion, reference, score", [
    (r"\boxed{10^{10^{100}} - 10^{10^{100}} + 3}", "3", 1.0),  # oversized parts that cancel leave a value
    (r"\boxed{\frac{10^{10^{100}}}{10^{10^{100}}}}", "1", 1.0),
    (r"\boxed{(10^{100})! - (10^{100})!}", "0", 1.0),
    (r"\boxed{10^{10^{100}} - 10^{10^{100}} + 3}", "4", 0.0),
    (r"\boxed{\binom{10^{20}}{2}}", "\\frac{10^{20}(10^{20}-1)}{2}", 1.0),  # small binomials stay exact
    (r"\boxed{\binom{-7}{3}}", "-84", 1.0),
])
def test_oversized_parts_that_cancel(completion, reference, score):
    verdict = verify_math(completion, reference)
    assert (verdict.status, verdict.score) == ("ok", score), verdict


def test_an_answer_as_large_as_the_reference_is_still_unchecked():
    verdict = verify_math(r"\boxed{(1+10^{-40})^{10^{13}}}", "1")  # size 10^(4e-28): equal to 1 at 20 digits
    assert (verdict.status, verdict.score) == ("ok", 0.0) and UNCHECKABLE in verdict.reason, verdict


def test_a_reference_beyond_the_budget_is_not_judged():
    assert verify_math(r"\boxed{3}", r"10^{10^{100}}").status == "invalid_reference"
    assert verify_math(r"\boxed{10^{10^{100}}}", r"10^{10^{100}}").score == 1.0  # the same text
    assert verify_math(r"\boxed{10^{(10^{100})}}", r"10^{10^{100}}").score == 1.0  # the same value


def test_the_cli_judges_a_huge_power_wrong(capsys):
    from rl.cli.main import main

    code = main(["verify", "--reference", "3", "--json", r"the answer is \boxed{10^{10^{100}}}"])
    verdict = json.loads(capsys.readouterr().out)
    assert (verdict["status"], verdict["score"]) == ("ok", 0.0) and code != 2, verdict
    assert SIZED in verdict["reason"]


def test_completion_is_parsed_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"\\boxed{{__import__('os').system('touch {marker}')}}"
    verdict = verify_math(payload, "0")
    assert not marker.exists()
    assert verdict.score == 0.0


def test_invalid_and_empty_reference():
    assert verify_math(f"{B}{{1}}", "").status == "invalid_reference"
    assert verify_math(f"{B}{{1}}", r"\frac{1}{").status == "invalid_reference"
    # The same unparseable text on both sides is still recognised.
    assert verify_math(r"\boxed{\weird{1}}", r"\weird{1}").score == 1.0


def test_reference_may_be_a_worked_solution_or_a_number():
    assert verify_math(f"{B}{{6}}", r"Add them: $2+4=\boxed{6}$.").score == 1.0
    assert verify_math(f"{B}{{6}}", 6).score == 1.0


def test_registered_and_typed():
    verdict = get_verifier("math")(f"{B}{{2}}", "2")
    assert isinstance(verdict, Verdict) and verdict.extracted == "2"


# Independent reference: on ordinary answers math-verify and rlvr must agree with the labels.
PLAIN = [(f"{B}{{\\frac{{1}}{{2}}}}", "0.5", True), (f"{B}{{3}}", "3", True), (f"{B}{{4}}", "3", False),
         (f"{B}{{\\sqrt{{2}}}}", "\\sqrt{2}", True), (f"{B}{{x+1}}", "1+x", True), (f"{B}{{(1,2)}}", "(1,2)", True)]


@pytest.mark.parametrize("completion, reference, label", PLAIN)
def test_agrees_with_math_verify_on_ordinary_answers(completion, reference, label):
    math_verify = pytest.importorskip("math_verify")
    theirs = math_verify.verify(math_verify.parse(f"${reference}$"), math_verify.parse(completion))
    assert theirs == label  # the label is right by an independent judge
    assert (verify_math(completion, reference).score == 1.0) == label
