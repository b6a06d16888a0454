"""indexer/answers.py: the answering sentence, chosen by the model (a fake one here; the real one in test_end_to_end)."""

from __future__ import annotations

import numpy as np

from indexer.answers import answer_spans, sentence_spans


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def test_sentences_end_at_a_stop_before_a_capital_or_at_a_line_break():
    text = "Coverage grew fast. It reached 80%, e.g. in Thailand.\n• Pensions for herders\n¿Qué cubre? Todo."
    assert _sentences(text) == ["Coverage grew fast.", "It reached 80%, e.g. in Thailand.", "• Pensions for herders",
                                "¿Qué cubre?", "Todo."]


def test_an_abbreviation_does_not_end_a_sentence():
    assert _sentences("Convention No. 183 applies to all. Benefits follow, e.g. Cash. Art. 5 says so.") == [
        "Convention No. 183 applies to all.", "Benefits follow, e.g. Cash.", "Art. 5 says so."]


def test_a_heading_or_a_fragment_loses_to_a_written_sentence(fake_embedder):
    text = "The monotributo scheme\nThe monotributo scheme merges tax and social security contributions for workers. (No. 183)."
    question = fake_embedder.encode(["monotributo scheme"])[0]
    [answer] = answer_spans(fake_embedder, question, [text])
    assert text[answer[0]:answer[1]].startswith("The monotributo scheme merges")


def test_a_text_without_a_stop_is_one_sentence_and_spaces_are_trimmed():
    assert sentence_spans("  social protection floor  ") == [(2, 25)]
    assert sentence_spans("") == []


def test_the_sentence_closest_to_the_question_is_chosen(fake_embedder):
    text = ("The meeting opened in Bangkok. Mongolia pays pensions to herders from a social insurance fund. "
            "Lunch was served at noon.")
    question = fake_embedder.encode(["herders pensions Mongolia"])[0]
    [answer] = answer_spans(fake_embedder, question, [text])
    assert text[answer[0]:answer[1]] == "Mongolia pays pensions to herders from a social insurance fund."


def test_a_short_sentence_may_be_joined_with_the_next(fake_embedder):
    text = "Maternity cash benefits. Paid for fourteen weeks at two thirds of earnings. Other topics followed later on."
    question = fake_embedder.encode(["maternity cash benefits paid fourteen weeks earnings"])[0]
    [answer] = answer_spans(fake_embedder, question, [text])
    assert text[answer[0]:answer[1]] == "Maternity cash benefits. Paid for fourteen weeks at two thirds of earnings."


def test_a_one_sentence_passage_gets_no_mark_and_the_model_runs_once(fake_embedder):
    calls = []

    class Counting:
        name, dimension, passage_prefix = fake_embedder.name, fake_embedder.dimension, "passage: "

        def encode(self, texts, batch_size=32):
            calls.append(list(texts))
            return fake_embedder.encode(texts)

    question = fake_embedder.encode(["pensions"])[0]
    spans = answer_spans(Counting(), question, ["Only one sentence here", "Pensions rose by ten percent. Costs fell a little too."])
    assert spans[0] is None and spans[1] == (0, 29)
    assert len(calls) == 1 and all(text.startswith("passage: ") for text in calls[0])  # one batch, with the model's prompt


def test_shared_words_break_a_tie_between_equally_close_sentences():
    class Flat:
        name, dimension = "flat", 2

        def encode(self, texts, batch_size=32):
            return np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (len(texts), 1))

    text = "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho. Herders get pensions here today."
    second = text.index("Herders")
    [answer] = answer_spans(Flat(), np.array([1.0, 0.0], dtype=np.float32), [text], [((second, second + 7),)])
    assert answer == (second, len(text))


def test_the_sentences_run_on_the_embedders_copy_for_questions_where_it_has_one(fake_embedder):
    asked = []

    class WithCopy:
        name, dimension = fake_embedder.name, fake_embedder.dimension

        def encode(self, texts, batch_size=32):
            asked.append("model")
            return fake_embedder.encode(texts)

        def quick_encode(self, texts):
            asked.append("copy")
            return fake_embedder.encode(texts)

    text = "The meeting opened in Bangkok. Mongolia pays pensions to herders from a social insurance fund."
    [answer] = answer_spans(WithCopy(), fake_embedder.encode(["herders pensions"])[0], [text])
    assert text[answer[0]:answer[1]].startswith("Mongolia pays pensions") and asked == ["copy"]
