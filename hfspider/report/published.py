"""The study's published figures (July 2025 snapshot, 1,860,411 models), shown beside hfspider's own."""

from __future__ import annotations

SOURCE = "Laufer, Oderinwale, Kleinberg, Anatomy of a Machine Learning Ecosystem (arXiv 2508.06811)"

#: Table or plot name -> the published figure, as the paper states it.
PUBLISHED: dict[str, str] = {
    "edge_counts": "573,653 edges: finetune 189,391 (33.0%), adapter 241,417 (42.1%), quantized 101,921 (17.8%), merge + unknown 40,924",
    "relation_mix": "finetune 33.0%, adapter 42.1%, quantized 17.8%, merge + unknown 7.1%",
    "children_with_children": "finetune 15,047 (7.9%), quantized 970 (0.95%), adapter 458 (0.19%)",
    "mutation_rates": "license 27,409.5 / 138,694 = 0.198; language 11,458.4 / 47,369 = 0.242; task 55,307 / 134,711 = 0.411",
    "orderings": (
        "license: gemma → llama3.1 → llama3.3 → llama3.2 → llama3 → openrail++ → llama2 → apache-2.0 → creativeml-openrail-m → "
        "cc-by-nc-4.0 → mit → openrail → cc-by-nc-sa-4.0 → cc-by-sa-4.0 → cc-by-4.0 → cc → bigscience-bloom-rail-1.0 → afl-3.0 → "
        "artistic-2.0 → gpl-3.0; 113 / 121 consistent; 84.6% explained. "
        "task: fill-mask → feature-extraction → automatic-speech-recognition → question-answering → text-generation → "
        "text-to-image → image-classification → text-classification → reinforcement-learning → token-classification; "
        "30 / 32 consistent; 98.2% explained. "
        "library: peft → adapter-transformers → timm → transformers → diffusers → mlx → ml-agents → tf-keras → "
        "sentence-transformers → keras; 17 / 17; 83.7%. "
        "language: 186 / 189 consistent; 75.0% explained; ends … → Korean → English"
    ),
    "card_drift": "67.0% of models have a card; mean length parent → child 9,773 → 4,402; auto-generated share +0.253",
    "card_lengths": "mean card length parent → child 9,773 → 4,402 (edges where both have one)",
    "language_count_drift": "languages per model, parent → child: 4.18 → 0.45 over all edges",
    "components": "FLUX.1-dev 33,194; Qwen1.5-0.5B 32,557; Qwen1.5-1.8B 30,618; Meta-Llama-3-8B 24,318; gemma-2b 23,869",
}
