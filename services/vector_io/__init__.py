"""The vector_io service: chunks stored in registered vector databases, searched by vector, keyword or both."""
