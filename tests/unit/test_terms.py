"""The contact search tokenizer (webapp/contacts/terms.py), without an app or a database."""

from webapp.contacts import terms


def test_fold_makes_composed_and_decomposed_letters_one():
    assert terms.fold("JOSE\u0301") == terms.fold("José") == "josé"


def test_unaccented_keeps_letters_of_their_own():
    assert terms.unaccented("josé") == "jose" and terms.unaccented("łukasz") == "łukasz"


def test_a_name_gives_its_pieces_joined_and_unaccented():
    assert terms.name_terms("Jean-Luc") == {"jean", "luc", "jeanluc"}
    assert terms.name_terms("José O'Brien") == {"josé", "jose", "o", "brien", "obrien"}
    assert terms.name_terms("") == set() and terms.name_terms("__") == set()


def test_a_contact_is_found_by_its_names_its_email_pieces_and_its_whole_address():
    found = terms.contact_terms("Ada", "", " Alex.Demo@Gmail.com ")
    assert found == {"ada", "alex", "demo", "gmail", "com", "alex.demo@gmail.com"}


def test_terms_are_cut_to_the_column():
    [term] = terms.name_terms("x" * 300)
    assert len(term) == terms.TERM_MAX


def test_the_sort_key_is_the_shown_name_or_else_the_email():
    assert terms.sort_key(" Émile ", "Zola", "e@x.io") == "emile zola"
    assert terms.sort_key("", "", " Only@Mail.io ") == "only@mail.io"


def test_query_words_drop_repeated_words_and_keep_twelve():
    assert terms.query_words("Jean-Luc ada Jean-Luc ADA") == [
        ("jean-luc", ["jean", "luc"]),
        ("ada", ["ada"]),
        ("ada", ["ada"]),  # another word as typed: its tag name is compared lower-cased
    ]
    assert len(terms.query_words(" ".join(f"w{n}" for n in range(20)))) == 12
