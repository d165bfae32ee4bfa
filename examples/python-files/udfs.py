"""The UDFs, in a module of their own: it imports the shipped modules, so the
client imports it too (udfenv run puts -pyfs files on the client's PYTHONPATH,
and the job adds the rest before it imports this)."""
from udfenv import DataTypes, udf

import strutil
import textlib
import scoring


@udf(result_type=DataTypes.STRING())
def initials(name):
    return strutil.initials(name)


@udf(result_type=DataTypes.DOUBLE())
def vowel_score(name):
    return scoring.score(textlib.vowels(name), len(name))
