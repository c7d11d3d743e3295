"""Reports: the AnalysisResult model (JSON report) and the HTML report rendered from it."""
