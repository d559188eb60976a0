"Test runs keep decoded scenes out of the user's cache folder."
import os, tempfile

os.environ.setdefault('SEG_IMBALANCE_CACHE', tempfile.mkdtemp(prefix='seg_imbalance_test_cache_'))
