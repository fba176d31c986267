from xlmr_lit.threads import set_wait_policy

set_wait_policy()  # before torch is imported: OpenMP threads sleep, not spin, while they wait (xlmr_lit/threads.py)
