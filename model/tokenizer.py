"""Byte-level BPE shared by prompts and code, with single digits so numbers copy exactly."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from .config import LANGUAGES

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
LANG_TAGS = {lang: f"<{lang}>" for lang in LANGUAGES}
SPECIAL_TOKENS = [PAD, EOS, UNK, *LANG_TAGS.values()]


def _new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\d"), behavior="isolated"),  # every digit its own token
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


class CodeTokenizer:
    """Wraps a `tokenizers.Tokenizer`: prompts get a language tag, code gets <eos> and padding."""

    def __init__(self, tokenizer: Tokenizer):
        self.tok = tokenizer
        ids = {t: tokenizer.token_to_id(t) for t in SPECIAL_TOKENS}
        missing = [t for t, i in ids.items() if i is None]
        if missing:
            raise ValueError(f"tokenizer lacks special tokens {missing}")
        special: dict[str, int] = {t: int(i) for t, i in ids.items() if i is not None}
        self.pad_id = special[PAD]
        self.eos_id = special[EOS]
        self.lang_ids = {lang: special[tag] for lang, tag in LANG_TAGS.items()}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> CodeTokenizer:
        tok = _new_tokenizer()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: Path) -> CodeTokenizer:
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: Path) -> None:
        self.tok.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode_prompt(self, text: str, lang: str, max_len: int) -> list[int]:
        ids = self.tok.encode(text or "", add_special_tokens=False).ids
        return [self.lang_ids[lang], *ids[: max_len - 1]]

    def encode_code(self, code: str) -> list[int]:
        """Code tokens followed by <eos> (no padding, no truncation)."""
        return [*self.tok.encode(code, add_special_tokens=False).ids, self.eos_id]

    def encode_code_with_offsets(self, code: str) -> tuple[list[int], list[tuple[int, int]]]:
        enc = self.tok.encode(code, add_special_tokens=False)
        return list(enc.ids), list(enc.offsets)

    def decode(self, ids: Iterable[int]) -> str:
        """Decode up to the first <eos> or <pad>."""
        out: list[int] = []
        for i in ids:
            if i in (self.eos_id, self.pad_id):
                break
            out.append(int(i))
        return self.tok.decode(out, skip_special_tokens=True)
