"""The events push sources send, built to the shapes AWS documents (tests compare them with
AWS's samples key by key): one module per source, each a set of small pure builders."""
