"""textnorm: a tiny third-party package the example installs offline."""
import unicodedata

__version__ = "1.0"


def normalize(text):
    """Lower case, accents stripped, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())
