namespace DeepTrain.ExampleService;

/// <summary>A request the service refuses with 400; the message says what was expected.</summary>
internal sealed class BadInputException(string message) : Exception(message);
