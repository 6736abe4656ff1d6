/**
 * Makes a standard sequence-classification ONNX export (only `logits`) usable here: copies
 * the model folder and exposes the encoder's last hidden state as an output.
 *   node --import tsx scripts/prepare-model.ts <source folder> <destination folder>
 */
import { prepareModelFolder, readModelFolder } from '#domain/model';

const [source, destination] = process.argv.slice(2);
if (!source || !destination) {
  console.error('usage: scripts/prepare-model.ts <source folder> <destination folder>');
  process.exit(2);
}
const { hiddenTensor } = prepareModelFolder(source, destination);
const info = readModelFolder(destination);
console.log(
  `prepared ${destination}: embedding output "${info.embeddingOutput}" (from tensor ${hiddenTensor})`,
);
