"""Sentences for the model-level interplay check (written by the project, no data set download).

The corpus has two parts, both deterministic:

* ``HANDWRITTEN``: short sentences in topic groups (cooking, weather, sport, hardware, ...). They
  give the FP32 sanity check something to score: two sentences of one group are related, two of
  different groups are not.
* Template sentences: subject x verb x object x place, enumerated with a fixed stride through the
  product so that neighbouring sentences differ in several slots. They add length and vocabulary
  variety so that the cosine figures are not dominated by a handful of sentences.

:func:`sentences` returns the whole list (>= 200 entries); :data:`SIMILAR_PAIRS` and
:data:`UNRELATED_PAIRS` are the sanity pairs used by tests and the report.
"""

from __future__ import annotations

import itertools
import math

__all__ = ["HANDWRITTEN", "SIMILAR_PAIRS", "UNRELATED_PAIRS", "sentences"]

#: Topic groups; sentences inside a group talk about the same thing.
_GROUPS: dict[str, tuple[str, ...]] = {
    "food": (
        "A man is eating a bowl of pasta.",
        "Someone is having noodles for dinner.",
        "The chef is slicing onions in the kitchen.",
        "She baked fresh bread this morning.",
        "The soup needs a little more salt.",
        "We ordered pizza with mushrooms and olives.",
        "He poured hot coffee into a cup.",
        "The restaurant serves grilled fish on Fridays.",
    ),
    "weather": (
        "It is raining heavily outside.",
        "A storm with strong winds is coming tonight.",
        "The sun is shining and the sky is clear.",
        "Snow covered the streets overnight.",
        "The forecast says it will be cold and cloudy tomorrow.",
        "Thick fog delayed the morning flights.",
        "Summer afternoons here are hot and humid.",
        "Lightning struck a tree during the thunderstorm.",
    ),
    "sport": (
        "The striker scored a goal in the last minute.",
        "Our team won the football match.",
        "She runs ten kilometres every Sunday.",
        "The tennis final went to a fifth set.",
        "The cyclists climbed the mountain pass in the rain.",
        "He swims laps in the pool before work.",
        "The basketball player made a perfect three-point shot.",
        "The marathon starts at eight in the morning.",
    ),
    "hardware": (
        "The accelerator multiplies matrices with a systolic array.",
        "Block floating point shares one exponent across a block of values.",
        "Pruning half of the weights halves the number of multiplications.",
        "The chip runs at one gigahertz and draws two watts.",
        "Each processing element holds a weight and passes activations to its neighbour.",
        "Quantizing weights to eight bits shrinks the memory footprint.",
        "The synthesis tool reports the area in square micrometres.",
        "Structured sparsity keeps two out of every four weights.",
    ),
    "animals": (
        "A cat is sleeping on the sofa.",
        "The dog is chasing a ball in the park.",
        "Birds are singing in the trees.",
        "A horse is running across the field.",
        "The kitten plays with a piece of string.",
        "Two dolphins jumped out of the water.",
        "The owl hunts mice at night.",
        "A puppy is barking at the mailman.",
    ),
    "music": (
        "A woman is playing the violin.",
        "The band played their new song at the concert.",
        "He practises the piano for an hour every day.",
        "The orchestra tuned their instruments before the show.",
        "She sings in a choir on weekends.",
        "The drummer kept a steady beat.",
        "They listened to jazz records all evening.",
        "A man is playing the guitar on the street.",
    ),
    "travel": (
        "The train to Geneva leaves at noon.",
        "We missed our connecting flight in Frankfurt.",
        "They rented a car to drive along the coast.",
        "The hotel room had a view of the lake.",
        "She packed her suitcase the night before the trip.",
        "The ferry crosses the bay every hour.",
        "Tourists crowded the old town square.",
        "He bought a map at the railway station.",
    ),
    "finance": (
        "The central bank raised interest rates again.",
        "Stock prices fell sharply after the announcement.",
        "The company reported higher profits this quarter.",
        "Inflation has made groceries more expensive.",
        "She saves part of her salary every month.",
        "Investors are worried about the housing market.",
        "The loan must be repaid within five years.",
        "The startup raised money from venture capital firms.",
    ),
}

#: Every handwritten sentence, group by group.
HANDWRITTEN: tuple[str, ...] = tuple(s for group in _GROUPS.values() for s in group)

#: Paraphrase-like pairs that a working sentence encoder scores clearly above unrelated pairs.
SIMILAR_PAIRS: tuple[tuple[str, str], ...] = (
    ("A man is eating a bowl of pasta.", "Someone is having noodles for dinner."),
    ("It is raining heavily outside.", "A storm with strong winds is coming tonight."),
    ("The striker scored a goal in the last minute.", "Our team won the football match."),
    ("A cat is sleeping on the sofa.", "The kitten plays with a piece of string."),
    ("A woman is playing the violin.", "A man is playing the guitar on the street."),
    (
        "The central bank raised interest rates again.",
        "Inflation has made groceries more expensive.",
    ),
)

#: Pairs across topic groups.
UNRELATED_PAIRS: tuple[tuple[str, str], ...] = (
    ("A man is eating a bowl of pasta.", "The central bank raised interest rates again."),
    ("It is raining heavily outside.", "A woman is playing the violin."),
    ("The striker scored a goal in the last minute.", "A cat is sleeping on the sofa."),
    ("A cat is sleeping on the sofa.", "Stock prices fell sharply after the announcement."),
    ("A woman is playing the violin.", "The train to Geneva leaves at noon."),
    ("The central bank raised interest rates again.", "Birds are singing in the trees."),
)

_SUBJECTS = (
    "The engineer",
    "A young student",
    "My neighbour",
    "The old fisherman",
    "A tired nurse",
    "The team captain",
    "Our teacher",
    "A street musician",
    "The mayor",
    "A curious child",
    "The night guard",
    "A retired pilot",
    "The baker",
    "A software developer",
)
_VERBS = (
    "repaired",
    "painted",
    "carried",
    "described",
    "photographed",
    "sold",
    "borrowed",
    "cleaned",
    "found",
    "measured",
    "ignored",
    "designed",
)
_OBJECTS = (
    "a broken bicycle",
    "the wooden fence",
    "an old radio",
    "a heavy box of books",
    "the red umbrella",
    "a small sailing boat",
    "the kitchen table",
    "a map of the city",
    "a basket of apples",
    "the circuit board",
    "a pair of boots",
)
_PLACES = (
    "near the river",
    "after lunch",
    "in the garage",
    "before the meeting",
    "at the market",
    "on a rainy afternoon",
    "behind the school",
    "late at night",
    "in the mountains",
    "during the holidays",
)

#: How many template sentences to add to the handwritten ones.
N_TEMPLATE = 136  # 64 handwritten + 136 = 200 sentences, the minimum


def _template_sentences(n: int) -> list[str]:
    """``n`` distinct template sentences, walking the slot product with a coprime stride.

    A stride coprime to the product size visits every combination once before repeating, and
    makes consecutive sentences differ in most slots (a plain ``itertools.product`` prefix would
    share subject and verb for hundreds of sentences).
    """
    combos = list(itertools.product(_SUBJECTS, _VERBS, _OBJECTS, _PLACES))
    total = len(combos)
    # 7409 = 5*1320 + 7*110 + 3*10 + 9: one step moves every slot (subject +5, verb +7,
    # object +3, place +9, before carries), and gcd(7409, 14*12*11*10) = 1.
    stride = 7409
    assert math.gcd(stride, total) == 1 and n <= total
    return ["{} {} {} {}.".format(*combos[(i * stride) % total]) for i in range(n)]


def sentences(n_template: int = N_TEMPLATE) -> list[str]:
    """All study sentences: the handwritten groups followed by ``n_template`` template ones.

    Parameters
    ----------
    n_template : int
        Number of generated template sentences (default :data:`N_TEMPLATE`).

    Returns
    -------
    list of str
        ``len(HANDWRITTEN) + n_template`` distinct sentences, identical on every call.
    """
    return list(HANDWRITTEN) + _template_sentences(int(n_template))
