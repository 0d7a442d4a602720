"""The vendored stop-word list is scikit-learn's (explanations must not change with the import)."""

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from spamguard.scoring.stopwords import ENGLISH_STOP_WORDS as VENDORED


def test_vendored_stop_words_equal_sklearns():
    assert VENDORED == ENGLISH_STOP_WORDS
