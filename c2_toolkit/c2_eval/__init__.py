from c2_toolkit.c2_eval.c2_eval import c2_eval, course_correction, prefill_generate

__all__ = ["c2_eval", "course_correction", "prefill_generate"]
