"""Evidence (证据): tus resumable uploads, a content-addressed store, attachment to cases, derivatives, custody."""
