"""Tags grouped by type and the metrics catalogue, computed from the hub's own public content."""

from __future__ import annotations

import re

from sqlalchemy import distinct, select

from hubd.db.engine import Database
from hubd.db.schema import repo_metrics, repo_tags, repos

PIPELINE_SUBTYPES = {
    "nlp": ("text-classification", "token-classification", "question-answering", "fill-mask", "summarization",
            "translation", "text-generation", "text2text-generation", "feature-extraction", "sentence-similarity",
            "zero-shot-classification", "table-question-answering"),
    "cv": ("image-classification", "object-detection", "image-segmentation", "depth-estimation",
           "image-to-image", "unconditional-image-generation", "zero-shot-image-classification"),
    "audio": ("automatic-speech-recognition", "audio-classification", "text-to-speech", "audio-to-audio"),
    "multimodal": ("text-to-image", "image-to-text", "visual-question-answering", "image-text-to-text",
                   "document-question-answering", "video-classification", "any-to-any"),
}
_SUBTYPE = {tag: sub for sub, tags in PIPELINE_SUBTYPES.items() for tag in tags}
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_DATASET_TYPES = ("task_categories", "task_ids", "language", "multilinguality", "size_categories",
                  "source_datasets", "annotations_creators", "language_creators", "format", "modality",
                  "library", "license", "region", "arxiv")
_MODEL_PREFIXES = ("license", "dataset", "base_model", "arxiv", "region")

# A built-in catalogue, as the Hub lists metrics even before any card names them.
METRICS = {
    "accuracy": "Proportion of correct predictions among all predictions.",
    "f1": "Harmonic mean of precision and recall.",
    "precision": "Fraction of positive predictions that are correct.",
    "recall": "Fraction of actual positives that are predicted positive.",
    "exact_match": "Rate at which predictions match their references exactly.",
    "bleu": "N-gram precision of a translation against references, with a brevity penalty.",
    "sacrebleu": "BLEU computed with standardised tokenisation (SacreBLEU).",
    "rouge": "N-gram and longest-common-subsequence overlap for summaries.",
    "meteor": "Unigram matching with stemming and synonyms for translation.",
    "chrf": "Character n-gram F-score.",
    "ter": "Translation edit rate.",
    "bertscore": "Similarity of contextual embeddings between candidate and reference.",
    "perplexity": "Exponentiated average negative log-likelihood of a sequence.",
    "wer": "Word error rate of a transcription.",
    "cer": "Character error rate of a transcription.",
    "matthews_correlation": "Correlation between predicted and true binary labels.",
    "pearsonr": "Pearson correlation coefficient.",
    "spearmanr": "Spearman rank correlation coefficient.",
    "roc_auc": "Area under the receiver operating characteristic curve.",
    "mse": "Mean squared error.",
    "mae": "Mean absolute error.",
    "mean_iou": "Mean intersection over union for segmentation.",
    "squad": "Exact match and F1 for extractive question answering (SQuAD).",
    "seqeval": "Precision, recall and F1 for sequence labelling.",
    "code_eval": "pass@k of generated code against unit tests.",
}


class Catalog:
    """The tag and metric catalogues of /api/*-tags-by-type and /api/metrics."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _public_tags(self, repo_type: str) -> list[str]:
        with self.db.read() as conn:
            return list(conn.execute(
                select(distinct(repo_tags.c.tag)).join(repos, repos.c.id == repo_tags.c.repo_id)
                .where((repos.c.type == repo_type) & repos.c.private.is_(False)).order_by(repo_tags.c.tag)
            ).scalars())

    def _distinct(self, column) -> set[str]:
        with self.db.read() as conn:
            return {v for v in conn.execute(select(distinct(column)).where(
                (repos.c.type == "model") & repos.c.private.is_(False) & column.is_not(None))).scalars()}

    def model_tags_by_type(self) -> dict[str, list[dict]]:
        pipelines = self._distinct(repos.c.pipeline_tag)
        libraries = self._distinct(repos.c.library_name)
        out: dict[str, list[dict]] = {}
        for tag in self._public_tags("model"):
            prefix, _, rest = tag.partition(":")
            if rest and prefix in _MODEL_PREFIXES:
                item = {"id": tag, "label": rest, "type": prefix}
            elif tag in pipelines:
                item = {"id": tag, "label": tag.replace("-", " ").title(), "type": "pipeline_tag",
                        "subType": _SUBTYPE.get(tag, "other")}
            elif tag in libraries:
                item = {"id": tag, "label": tag, "type": "library"}
            elif _LANGUAGE.match(tag):
                item = {"id": tag, "label": tag, "type": "language"}
            else:
                item = {"id": tag, "label": tag, "type": "other"}
            out.setdefault(str(item["type"]), []).append(item)
        return out

    def dataset_tags_by_type(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for tag in self._public_tags("dataset"):
            prefix, _, rest = tag.partition(":")
            kind = prefix if rest and prefix in _DATASET_TYPES else "other"
            out.setdefault(kind, []).append({"id": tag, "label": rest if kind != "other" else tag, "type": kind})
        return out

    def metrics(self) -> list[dict]:
        with self.db.read() as conn:
            named = set(conn.execute(
                select(distinct(repo_metrics.c.metric)).join(repos, repos.c.id == repo_metrics.c.repo_id)
                .where(repos.c.private.is_(False))).scalars())
        out = [{"id": k, "description": v} for k, v in METRICS.items()]
        out += [{"id": m, "description": f"Reported in model cards as {m}."} for m in sorted(named - set(METRICS))]
        return out
