import pytest

from designs import ranking


def test_bayesian_average_pulls_few_votes_towards_the_prior():
    one_perfect = ranking.bayesian_average(5, 1, prior_mean=3.0, weight=10)
    hundred_good = ranking.bayesian_average(460, 100, prior_mean=3.0, weight=10)
    assert one_perfect == pytest.approx((10 * 3.0 + 5) / 11)
    assert hundred_good > one_perfect  # 4.6 over 100 votes beats a single 5


def test_bayesian_average_with_no_votes_is_the_prior():
    assert ranking.bayesian_average(0, 0, prior_mean=3.2, weight=10) == 3.2


def test_wilson_lower_bound_prefers_evidence():
    assert ranking.wilson_lower_bound(0, 0) == 0.0
    two_of_two = ranking.wilson_lower_bound(2, 2)
    eighty_of_hundred = ranking.wilson_lower_bound(80, 100)
    assert two_of_two == pytest.approx(0.3424, abs=1e-4)
    assert eighty_of_hundred == pytest.approx(0.7112, abs=1e-4)
    assert eighty_of_hundred > two_of_two


def test_rank_combines_both_on_a_zero_to_one_scale():
    assert ranking.rank_score(5.0, 1.0, 0.3) == pytest.approx(1.0)
    assert ranking.rank_score(0.0, 0.0, 0.3) == 0.0
    assert ranking.rank_score(4.0, 0.5, 0.3) == pytest.approx(0.7 * 0.8 + 0.3 * 0.5)
