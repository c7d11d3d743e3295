"""Reports: the AnalysisResult model (JSON report) and the HTML report rendered from it."""

from pcap_analyzer.report import model as _model  # noqa: E402,F401  (loads model before model_* modules)
