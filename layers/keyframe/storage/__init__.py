"""Storage: the one schema source of every DynamoDB table, and PynamoDB base classes."""
