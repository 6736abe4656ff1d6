"""Uncased BERT WordPiece tokenizer (pure Python, no third-party packages).

Mirrors, step by step, what transformers.js (@huggingface/transformers 4.x) does with the
`tokenizer.json` written by `write_tokenizer_files`, so that token ids used for training equal the
ids produced at serving time in Node:

1. the raw text is split on literal special tokens ([PAD] [UNK] [CLS] [SEP] [MASK]; case-sensitive,
   not normalised; a literal "[CLS]" in user text becomes the special token, as in HF tokenizers);
2. BertNormalizer: clean_text (drop U+0000, U+FFFD and Cc/Cf/Co/Cs except \\t \\n \\r; JS `\\s`
   whitespace -> " "), CJK characters of the BMP surrounded by spaces (transformers.js looks at
   UTF-16 code units, so astral CJK are left alone), lowercase, then accents stripped (NFD, drop Mn),
   because strip_accents null follows lowercase;
3. BertPreTokenizer: trim, then runs of non-space non-punctuation characters, or single punctuation
   characters (Unicode P* plus all ASCII symbols);
4. WordPiece: greedy longest match, "##" continuation prefix, words over 100 characters -> [UNK];
5. "[CLS] A [SEP]" and truncation to max_length *after* adding the special tokens (transformers.js
   cuts the final ids, so a text of more than 126 word pieces ends without [SEP]).
"""
from __future__ import annotations

import json
import unicodedata

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_LENGTH = 128

# JavaScript's \s (ECMAScript WhiteSpace + LineTerminator)
_JS_SPACE = set("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {
    chr(c) for c in range(0x2000, 0x200B)
}


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 0x21 <= cp <= 0x2F or 0x3A <= cp <= 0x40 or 0x5B <= cp <= 0x60 or 0x7B <= cp <= 0x7E:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese_bmp(cp: int) -> bool:
    # transformers.js tests UTF-16 code units, so only BMP ranges can match
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF


def normalize(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if ch in _JS_SPACE else ch)
    text = "".join(out)
    text = "".join(f" {ch} " if _is_chinese_bmp(ord(ch)) else ch for ch in text)
    text = text.lower()
    text = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def pre_tokenize(text: str) -> list[str]:
    words: list[str] = []
    cur: list[str] = []
    for ch in text:
        if ch in _JS_SPACE:
            if cur:
                words.append("".join(cur))
                cur = []
        elif _is_punct(ch):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


class BertTokenizer:
    def __init__(self, vocab_path: str, max_length: int = MAX_LENGTH):
        with open(vocab_path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.vocab_list = lines
        self.vocab = {tok: i for i, tok in enumerate(lines)}
        assert len(self.vocab) == len(lines), "duplicate vocabulary entries"
        self.max_length = max_length
        self.unk_id = self.vocab["[UNK]"]
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.pad_id = self.vocab["[PAD]"]
        self._cache: dict[str, list[int]] = {}

    def _wordpiece(self, word: str) -> list[int]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        chars = list(word)
        if len(chars) > 100:
            ids = [self.unk_id]
        else:
            ids = []
            start = 0
            while start < len(chars):
                end = len(chars)
                found = None
                while start < end:
                    sub = "".join(chars[start:end])
                    if start > 0:
                        sub = "##" + sub
                    if sub in self.vocab:
                        found = self.vocab[sub]
                        break
                    end -= 1
                if found is None:
                    ids = [self.unk_id]
                    break
                ids.append(found)
                start = end
        if len(self._cache) < 500_000:
            self._cache[word] = ids
        return ids

    def _split_specials(self, text: str) -> list[str]:
        """Longest-match split on the literal special tokens (same as transformers.js's trie)."""
        parts: list[str] = []
        start = i = 0
        n = len(text)
        while i < n:
            match = None
            if text[i] == "[":
                for tok in SPECIAL_TOKENS:
                    if text.startswith(tok, i):
                        match = tok
                        break
            if match:
                if i > start:
                    parts.append(text[start:i])
                parts.append(match)
                i += len(match)
                start = i
            else:
                i += 1
        if start < n:
            parts.append(text[start:])
        return parts

    def tokenize_ids(self, text: str) -> list[int]:
        """Word-piece ids without [CLS]/[SEP] and without truncation."""
        ids: list[int] = []
        for part in self._split_specials(text):
            if part in SPECIAL_TOKENS:
                ids.append(self.vocab[part])
                continue
            norm = normalize(part)
            if not norm:
                continue
            for word in pre_tokenize(norm.strip(" ")):
                ids.extend(self._wordpiece(word))
        return ids

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        max_length = max_length or self.max_length
        # As Hugging Face tokenizers truncate a single sequence: cut the text's tokens and
        # keep [SEP] last, so the graph always sees a complete [CLS] ... [SEP] input.
        return [self.cls_id] + self.tokenize_ids(text)[: max_length - 2] + [self.sep_id]


def write_tokenizer_files(tok: BertTokenizer, out_dir: str) -> None:
    import os

    added = [
        {
            "id": tok.vocab[t],
            "content": t,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for t in SPECIAL_TOKENS
    ]
    cls_id, sep_id = tok.cls_id, tok.sep_id
    tokenizer_json = {
        "version": "1.0",
        "truncation": {
            "direction": "Right",
            "max_length": tok.max_length,
            "strategy": "LongestFirst",
            "stride": 0,
        },
        "padding": None,
        "added_tokens": added,
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None,
            "lowercase": True,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 1}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 1}},
            ],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls_id], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep_id], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {t: i for i, t in enumerate(tok.vocab_list)},
        },
    }
    specials = {
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "mask_token": "[MASK]",
    }
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "model_max_length": tok.max_length,
        "clean_up_tokenization_spaces": True,
        **specials,
        "added_tokens_decoder": {
            str(a["id"]): {k: v for k, v in a.items() if k != "id"} for a in added
        },
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(specials, f, indent=2)
        f.write("\n")
