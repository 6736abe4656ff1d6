import { numberField, stringField } from '#platform/common';
import { GOLDEN_SET_PATH } from '#domain/model';

/** Config fields of whatever writes to the registry (the mlops CLI, later the promoter). */
export const registryConfigFields = {
  artifactRoot: stringField(
    'ARTIFACT_ROOT',
    'Root of the content-addressed artifact store (relative: to the working directory)',
    { default: 'var/artifacts' },
  ),
  minF1: numberField(
    'MIN_F1',
    'Minimum golden-set (SST-2 dev) F1 for a first production version (bootstrap)',
    { default: 0.8, min: 0, max: 1 },
  ),
  deploymentSigningKeyFile: stringField(
    'DEPLOYMENT_SIGNING_KEY_FILE',
    'Ed25519 private key (PKCS#8 PEM) that signs deployment events; no default outside the local stack',
  ),
  bootstrapModelDir: stringField(
    'BOOTSTRAP_MODEL_DIR',
    'Committed bootstrap model registered as the first version',
    { default: 'models/sentiment-minilm' },
  ),
  goldenSetFile: stringField(
    'GOLDEN_SET_FILE',
    'Golden evaluation set (SST-2 dev, sentence<TAB>label with a header line)',
    { default: GOLDEN_SET_PATH },
  ),
};
