"""AutoST: training-free neural architecture search for spiking transformers."""
import logging

# torch warns once per process that triton is missing when SpikingJelly registers its
# operators; on a CPU machine that is expected and only noise.
logging.getLogger("torch._library.triton").setLevel(logging.ERROR)
