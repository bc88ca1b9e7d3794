"""reportgen: explain a fine-tuned ALBERT model's predictions in one self-contained HTML report.

Stages, one module each: ``inputs`` -> ``loading`` -> ``extraction`` -> ``methods`` ->
``report`` -> ``charts`` -> ``render`` -> ``cli`` (plus ``export`` for CSV files and
``output`` for crash-safe writes).
"""

__version__ = "0.1.0"
