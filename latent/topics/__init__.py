"""Topic models of a collection: LDA over chunk texts and embedding-cluster topics labelled by c-TF-IDF."""
