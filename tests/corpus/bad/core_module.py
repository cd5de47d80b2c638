# expect: forbidden-import
# technique: import the host bot's core (seed: core hijacking)
import core.client
