using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Inference;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Training;

// 600 generated 8×8 gray images of 3 classes: class k is a band of brightness 40 + 80·k + noise.
var rng = new Random(1);
int[] labels = Enumerable.Range(0, 600).Select(i => i % 3).ToArray();
byte[] pixels = labels.SelectMany(k => Enumerable.Range(0, 64).Select(_ => (byte)(40 + 80 * k + rng.Next(40)))).ToArray();
var data = new Dataset("bands", channels: 1, height: 8, width: 8, classes: 3, pixels, labels);

// Train one epoch of a small MLP on the CPU, then save a checkpoint.
using var backend = new CpuBackend();
using var model = new Model(ModelZoo.Create("mlp", inChannels: 1, classes: 3, size: 8), backend, seed: 1);
using var sgd = new SGD(model.Parameters, lr: 0.1f, momentum: 0.9f);
using var trainer = new Trainer(model, sgd, new ConstantLr(0.1f), new CrossEntropyLoss(), batchSize: 20);
using var loader = new DataLoader(data, batchSize: 20, shuffle: true, Normalization.Identity(1), augmentation: null, seed: 1);
var (loss, accuracy, _, _) = trainer.TrainEpoch(loader, epoch: 0);
ModelCheckpoint.Save(model, "bands.safetensors", description: new CheckpointDescription(Normalization.Identity(1)));

// Serve it: the checkpoint names its model, arguments and input normalisation, so one call loads it, without the data.
using var session = InferenceSession.Load("bands.safetensors");
var x = new float[session.SampleSize];
session.Normalize(data.Image(5), x);
var logits = new float[session.Classes];
session.Run(x, logits);
Console.WriteLine($"epoch 1: loss {loss:F3}, accuracy {accuracy:P1}; image 5 is class {labels[5]}, predicted {Array.IndexOf(logits, logits.Max())}");
